"""python -m symshape: the same as the ``symshape`` command."""

from .cli import main

raise SystemExit(main())
