"""``python -m datamill`` is the ``datamill`` command."""

if __name__ == "__main__":
    from datamill.cli import main

    main()
