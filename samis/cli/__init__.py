"""The ``samis`` command line.

Subcommands live in their own modules and are imported only when called, so ``samis evaluate``
never pays for importing torch and starts in well under a second.
"""

from __future__ import annotations

import importlib
import sys

import click

from samis.errors import SamisError

# name -> "module:attribute" of a click command
SUBCOMMANDS = {
    "datasets": "samis.cli.datasets:datasets",
    "evaluate": "samis.cli.evaluate:evaluate",
    "table": "samis.cli.table:table",
    "curves": "samis.cli.curves:curves",
    "models": "samis.cli.models:models",
    "run": "samis.cli.run:run",
    "reproduce": "samis.cli.reproduce:reproduce",
    "demo": "samis.cli.demo:demo",
    "report": "samis.cli.report:report",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx):
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx, name):
        target = SUBCOMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None  # not built yet
            raise
        return getattr(module, attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="samis")
def cli():
    """Zero-shot SAM studies on industrial surface defects: run, evaluate, tabulate, plot."""


def main(argv=None):
    """Entry point: user errors become one clear line and exit code 2, never a traceback."""
    try:
        cli.main(args=argv, prog_name="samis", standalone_mode=False)
    except SamisError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted; finished work is kept and a rerun resumes it", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except OSError as exc:  # a file operation no step turned into a SamisError: still one clear line
        import errno

        from samis.errors import WRITE_FIXES

        fix = WRITE_FIXES.get(errno.errorcode.get(exc.errno or 0, ""), "check the path and its permissions")
        where = f"{exc.filename}: " if exc.filename else ""
        click.echo(f"error: {where}{exc.strerror or exc}; {fix}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("interrupted; finished work is kept and a rerun resumes it", err=True)
        sys.exit(130)
