"""The Runs page shows the exact prompt before queueing and queues an edited template verbatim."""

from __future__ import annotations

import pytest

from pipelines.prompt_preview import render
from pipelines.prompting_templates import load_template
from tests.fixtures_data import quiet_store, runs_page

pytestmark = pytest.mark.slow


@pytest.fixture()
def own_store(tmp_path, monkeypatch, rt_small):
    """A store of its own with a registered live 'worker' (this process): queued jobs stay queued."""
    store = quiet_store(tmp_path, monkeypatch, rt_small, "editor")
    return store


def test_runs_page_previews_and_queues_the_edited_prompt(own_store, rt_small):
    at = runs_page()
    at.radio(key="runs_kind").set_value("Prompt an LLM (zero/few-shot)").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("template **review**" in e.label for e in at.expander)  # the resolved name, not "(default)"
    prompt, _ = render({"dataset": "rt_small", "mode": "zero"}, rt_small)
    assert prompt in [c.value for c in at.code]
    (area,) = [t for t in at.text_area if t.key.startswith("prompt_template_")]
    edited = area.value.replace("name: review", "name: snippet").replace("Read the movie review", "Judge the snippet")
    area.set_value(edited).run()
    assert any(c.value.startswith("Judge the snippet") for c in at.code)
    words = [t for t in at.text_input if t.key.startswith("verbalizer_")]
    assert [w.value for w in words] == ["negative", "positive"], "one answer-word field per label"
    words[1].set_value("great").run()  # the verbaliser, edited on the page
    assert any("`great`" in c.value for c in at.caption)
    at.button(key="prompt_queue").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (job,) = [j for j in own_store.jobs() if j["kind"] == "prompt"]
    queued = load_template(job["config"]["template"])
    assert queued.name == "snippet" and queued.instruction.startswith("Judge the snippet")
    assert queued.explicit_word(rt_small.labels[1]) == "great"
    assert job["config"].get("model") is None, "the page's default leaves the LLM to the measured, derived choice"


def test_few_shot_repeats_over_seeds_from_the_runs_page(own_store):
    """The seed of a few-shot run draws its examples: the form offers a seed group there and not for
    zero-shot label scoring, where every seed gives the same predictions."""
    at = runs_page()
    at.radio(key="runs_kind").set_value("Prompt an LLM (zero/few-shot)").run()
    assert "prompt_seeds" not in [n.key for n in at.number_input]
    at.selectbox(key="prompt_mode").set_value("few").run()
    estimate = next(m.value for m in at.markdown if "Estimated duration" in m.value)
    assert "**derived model**" in estimate and "**None**" not in estimate  # the LLM is left to the data
    at.number_input(key="prompt_seeds").set_value(2).run()
    at.button(key="prompt_queue").click().run()
    assert not at.exception, [e.value for e in at.exception]
    jobs = [j for j in own_store.jobs() if j["kind"] == "prompt"]
    assert sorted(j["config"]["seed"] for j in jobs) == [42, 43] and {j["config"]["mode"] for j in jobs} == {"few"}
    assert len({j.get("sweep") for j in jobs}) == 1 and jobs[0].get("sweep")
