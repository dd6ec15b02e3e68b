"""`python -m citewise`: the command line, as citewise starts it in child processes."""

from citewise.cli import main
from citewise.core.process import die_with_parent

if __name__ == "__main__":
    die_with_parent()
    main()
