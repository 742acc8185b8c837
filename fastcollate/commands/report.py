"""``fastcollate report``: write a Markdown report with plots."""

import sys

from fastcollate.commands import check_output_dir

NAME = "report"


def add_parser(subparsers):
    parser = subparsers.add_parser(
        NAME,
        help="write a Markdown report with plots from collate statistics or a benchmark result",
        description=(
            "Read a JSON file written by fastcollate.save_stats (collate statistics) or by "
            "`fastcollate bench --json` (benchmark result) and write report.md into the output "
            "folder: the stages by time with ms and percent of the collate time, the target "
            "cache hit rate, peak memory, throughput and, for benchmark results, the speedup of "
            "every case. The plots stages.png and speedup.png need matplotlib "
            "(pip install fastcollate[report])."
        ),
    )
    parser.add_argument("source", metavar="FILE", help="collate statistics or benchmark result (JSON)")
    parser.add_argument("--output", "-o", metavar="DIR", default="fastcollate-report",
                        help="folder for report.md and the PNG plots, created if missing "
                             "(default: fastcollate-report)")
    parser.add_argument("--no-plots", action="store_true",
                        help="write report.md only, without matplotlib")
    return parser


def run(args):
    from fastcollate.report import write_report

    check_output_dir("--output", args.output)
    try:
        path = write_report(args.source, args.output, plots=not args.no_plots)
    except ImportError as error:
        print(f"fastcollate report: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0
