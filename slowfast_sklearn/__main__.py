"""``python -m slowfast_sklearn {demo,embed}``: the command line (:mod:`slowfast_sklearn._cli`)."""

import sys

from ._cli import main
from ._cli.embed import add_embed_parser as _add_embed_parser  # docs/conf.py documents it

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
