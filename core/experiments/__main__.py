"""`python -m core.experiments NAME [options]`: run one of the measurements (see core/experiments/__init__.py)."""
import importlib
import sys

COMMANDS = {"positions": "positions", "stability": "positions", "hunger": "hunger", "transfer": "transfer",
            "fourier": "fourier",
            "pretraining": "pretraining", "ship": "ship", "architectures": "architectures"}


def main(argv=None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        raise SystemExit(f"usage: python -m core.experiments {' | '.join(COMMANDS)} [options] (--help for each)")
    module = importlib.import_module(f"core.experiments.{COMMANDS[argv[0]]}")
    module.main(argv if COMMANDS[argv[0]] == "positions" else argv[1:])


if __name__ == "__main__":
    main()
