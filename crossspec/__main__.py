"""``python -m crossspec ...``: the same as the ``crossspec`` command (and what torchrun launches:
``torchrun --nproc_per_node N -m crossspec train ...``)."""
from crossspec.cli import main

if __name__ == "__main__":
    main()
