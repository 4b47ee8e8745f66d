"""``python -m sslbench``: the same command line as the ``sslbench`` script."""

from sslbench.cli import main

if __name__ == "__main__":
    main()
