"""`quco reward`: corpus-grounded rewards for a file of prompts and completions (RL fine-tuning)."""

from __future__ import annotations

import json
import sys

from quco.cli.common import detector_options, emit_file, settings_from_args, streams


def register(sub) -> None:
    r = sub.add_parser("reward", help="reward every completion of a JSONL/CSV/Parquet file (RL fine-tuning)")
    r.add_argument("input", help="rows with a prompt and a completion (strings, or lists of chat messages); - for "
                                 "JSONL on standard input")
    r.add_argument("-o", "--output", required=True, help="output file: .jsonl, .csv or .parquet; - for JSONL on "
                                                         "standard output")
    r.add_argument("--prompt-field", default="prompt")
    r.add_argument("--completion-field", default="completion")
    r.add_argument("--scheme", choices=["evidence", "corver"],
                   help="evidence (quco's evidence model, default) or corver (CorVer's count bins)")
    r.add_argument("--unknown", choices=["neutral", "penalize"], help="how an unknown count scores (default neutral)")
    r.add_argument("--details", action="store_true", help="add each sentence's claims, counts and reward (JSON)")
    r.add_argument("--chunk-size", type=int, default=2048, help="completions rewarded per batch (default 2048)")
    r.add_argument("--errors", help="where malformed rows go (default: OUTPUT.errors.jsonl)")
    r.add_argument("--force", action="store_true", help="replace outputs even if quco did not write them")
    r.add_argument("--json", action="store_true", help="print the run's figures as JSON")
    detector_options(r)
    r.set_defaults(handler=cmd_reward)


def cmd_reward(args) -> int:
    from dataclasses import replace

    from quco.batch.rewarding import reward_file
    from quco.reward import from_settings

    settings = settings_from_args(args)
    settings = replace(settings, reward_scheme=args.scheme or settings.reward_scheme,
                       reward_unknown=args.unknown or settings.reward_unknown)
    settings.check_backend()
    with streams(args.input, args.output, args.errors) as (src, out, errors):
        stats = reward_file(src, out, from_settings(settings), prompt_field=args.prompt_field,
                            completion_field=args.completion_field, details=args.details, chunk_size=args.chunk_size,
                            errors_path=errors, force=args.force)
        if args.output == "-":
            emit_file(out)
    say = sys.stderr if args.output == "-" else sys.stdout
    if args.json:
        print(json.dumps(stats.to_dict(), indent=2), file=say)
        return 0
    mean = "n/a" if stats.mean_reward is None else f"{stats.mean_reward:+.4f}"
    where = "standard output" if args.output == "-" else stats.output
    print(f"rewarded {stats.rewarded:,} of {stats.rows:,} rows into {where} in {stats.seconds:.1f} s "
          f"({stats.rows_per_s:,.0f} rows/s, {settings.reward_scheme} scheme); mean reward {mean}; "
          f"{stats.errors:,} malformed rows in {stats.errors_file}; {stats.unknown:,} claims with an unknown count", file=say)
    return 0
