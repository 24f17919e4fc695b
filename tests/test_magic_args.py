"""The %phaya parser on its own: typed commands from lines, UsageError naming what is allowed."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from phaya_notebook import catalog
from phaya_notebook.magic_args import (
    KINDS,
    MAX_REPEATS,
    Chat,
    Compare,
    Cost,
    Generate,
    Help,
    Jobs,
    Models,
    Plain,
    Spend,
    help_text,
    interpolate,
    kind_services,
    parse,
    tokenize,
)


def gen(line: str, cell: str | None = None, ns: dict | None = None, defaults: dict | None = None) -> Generate:
    cmd = parse(line, cell, ns or {}, defaults)
    assert isinstance(cmd, Generate), cmd
    return cmd


def usage(line: str, cell: str | None = None, ns: dict | None = None, defaults: dict | None = None) -> str:
    with pytest.raises(UsageError) as info:
        parse(line, cell, ns or {}, defaults)
    return str(info.value)


# ---------------------------------------------------------------- tokens and {name}


def test_tokenize_keeps_apostrophes_and_quoted_groups() -> None:
    toks = tokenize("""a cat's hat "two words" '--not-a-flag' --x=1""")
    assert [t.text for t in toks] == ["a", "cat's", "hat", "two words", "--not-a-flag", "--x=1"]
    assert [t.quoted for t in toks] == [False, False, False, True, True, False]


def test_interpolate_names_attributes_and_literal_braces() -> None:
    class Obj:
        colour = "teal"

    ns = {"subject": "a fox", "o": Obj(), "urls": ["u1", "u2"]}
    assert interpolate("{subject} in {o.colour} {{x}}", ns) == "a fox in teal {x}"
    assert interpolate("{urls}", ns, whole=True) == ["u1", "u2"]
    with pytest.raises(UsageError, match="missing_name"):
        interpolate("{missing_name}", ns)
    with pytest.raises(UsageError, match="no attribute 'shade'"):
        interpolate("{o.shade}", ns)


# ---------------------------------------------------------------- generation


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_runs_its_catalog_default(kind: str) -> None:
    svc = catalog.resolve_service(kind)
    primary = "prompt" if any(p.name == "prompt" for p in svc.params) else next(
        p.name for p in svc.params if p.required)
    value = "https://example.test/a.mp4" if primary != "prompt" else "a red fox"
    cmd = gen(f"{kind} {value}")
    assert cmd.service is svc
    assert cmd.params == {primary: value}
    assert (cmd.repeats, cmd.confirm, cmd.wait, cmd.tags) == (1, False, True, ())


@pytest.mark.parametrize("svc", list(catalog.SERVICES.values()) + list(catalog.MEDIA_JOBS.values()),
                         ids=lambda s: s.name)
def test_every_service_and_alias_is_a_subcommand(svc: catalog.Service) -> None:
    for name in (svc.name, *svc.aliases):
        if name in KINDS:
            continue
        cmd = parse(f"{name} --help")
        assert cmd == Help(svc.name)


def test_flags_are_generated_from_the_chosen_model() -> None:
    cmd = gen("video --model seedance a dog on a skateboard --resolution 1080p --duration 12 "
              "--generate-audio --no-fixed-lens --aspect_ratio 9:16")
    assert cmd.service.name == "seedance-video"
    assert cmd.params == {"prompt": "a dog on a skateboard", "resolution": "1080p", "duration": "12",
                          "generate_audio": True, "fixed_lens": False, "aspect_ratio": "9:16"}
    assert cmd.estimate.credits == catalog.SEEDANCE_PRICES[("1080p", "12")][1]


def test_model_picks_a_service_or_the_services_own_model_param() -> None:
    veo = gen("video --model veo3 a dog")
    assert (veo.service.name, veo.params["model"], veo.estimate.credits) == ("veo31-video", "veo3", 50.0)
    fast = gen("video -m veo a dog")
    assert fast.service.name == "veo31-video" and "model" not in fast.params
    assert fast.estimate.credits == 15.0
    music = gen("music --model v5 a song --instrumental --style-weight 0.5")
    assert music.service.name == "text-to-music"
    assert music.params == {"model": "V5", "prompt": "a song", "instrumental": True, "style_weight": 0.5}
    assert gen("veo --model veo3 x").params["model"] == "veo3"
    assert gen("veo3 x").params["model"] == "veo3"


def test_list_fields_repeat_or_split_on_commas_and_take_list_variables() -> None:
    cmd = gen("nano-banana cat --image-input http://a/1.png,http://a/2.png --image-input http://a/3.png")
    assert cmd.params["image_input"] == ["http://a/1.png", "http://a/2.png", "http://a/3.png"]
    urls = ["http://a/x.png", "http://a/y.png"]
    assert gen("nano-banana cat --image-input {urls}", ns={"urls": urls}).params["image_input"] == urls
    merge = gen("merge-video http://a/1.mp4 http://a/2.mp4")
    assert merge.params == {"video_urls": ["http://a/1.mp4", "http://a/2.mp4"]}
    assert gen("merge-audio http://a/1.mp3 http://a/2.mp3").params == {"audio_urls": ["http://a/1.mp3",
                                                                                     "http://a/2.mp3"]}
    assert gen("transcribe {clip}", ns={"clip": "http://a/s.wav"}).params == {"media_url": "http://a/s.wav"}
    voiced = gen("add-audio http://a/v.mp4 --audio-url http://a/a.mp3 --keep-original-audio")
    assert voiced.service.name == "media/merge-audio-video"
    assert voiced.params == {"video_url": "http://a/v.mp4", "audio_url": "http://a/a.mp3",
                             "keep_original_audio": True}


def test_object_fields_become_sub_flags() -> None:
    cmd = gen("ken-burns http://a/x.png --zoom-mode pan_left --zoom-speed 0.002 --duration 7")
    assert cmd.params == {"image_url": "http://a/x.png", "zoom": {"mode": "pan_left", "speed": 0.002},
                          "duration": 7}
    assert gen("ken-burns http://a/x.png --zoom").params["zoom"] == {}


def test_generic_flags() -> None:
    cmd = gen("image a fox -n 3 --yes --no-wait --tag a,b --tag c")
    assert (cmd.repeats, cmd.confirm, cmd.wait, cmd.tags) == (3, True, False, ("a", "b", "c"))
    assert cmd.total_credits == 3.0
    assert gen("image --prompt 'a fox' -y").params == {"prompt": "a fox"}
    assert gen("image -- -5 degrees --yes").params == {"prompt": "-5 degrees --yes"}
    assert gen("speech hello --language none").params == {"prompt": "hello", "language": None}


def test_interpolation_in_prompt_and_flags_without_flag_injection() -> None:
    ns = {"subject": "a fox --yes", "ratio": "16:9"}
    cmd = gen("image {subject} in snow --aspect-ratio {ratio}", ns=ns)
    assert cmd.params == {"prompt": "a fox --yes in snow", "aspect_ratio": "16:9"}
    assert cmd.confirm is False
    assert "{nobody}" in usage("image a {nobody}")


def test_cell_body_is_the_prompt_and_interpolated() -> None:
    cmd = gen("image --aspect-ratio 4:3", cell="a {animal}\non a mat\n", ns={"animal": "cat"})
    assert cmd.params == {"prompt": "a cat\non a mat", "aspect_ratio": "4:3"}
    assert "not both" in usage("image a dog", cell="a cat")


def test_configured_defaults_pick_the_model() -> None:
    assert gen("image x", defaults={"image": "seedream"}).service.name == "seedream"
    assert gen("video x", defaults={"video": "veo3"}).params["model"] == "veo3"
    assert gen("image --model nano-banana x", defaults={"image": "seedream"}).service.name == "nano-banana"


# ---------------------------------------------------------------- bad input names what is allowed


def test_unknown_subcommand_lists_subcommands() -> None:
    msg = usage("imag a cat")
    assert "'imag'" in msg and "Did you mean image?" in msg
    for name in ("image", "chat", "balance", "seedance", "veo31-video"):
        assert name in msg


def test_unknown_flag_lists_the_models_flags() -> None:
    msg = usage("image a cat --aspec 1:1")
    assert "--aspec" in msg and "--aspect-ratio" in msg and "--model" in msg
    # a flag of another model is unknown for this one
    assert "--resolution" in usage("image a cat --resolution 4K")


def test_bad_values_name_field_and_allowed_values() -> None:
    msg = usage("image a cat --aspect-ratio 7:3")
    assert "--aspect-ratio" in msg and "'7:3'" in msg and "'16:9'" in msg
    msg = usage("ken-burns http://a/x.png --duration abc")
    assert "--duration" in msg and "an integer from 1 to 60" in msg
    msg = usage("ken-burns http://a/x.png --duration 99")
    assert "--duration" in msg and "out of range" in msg
    msg = usage("ken-burns http://a/x.png --zoom-mode diagonal")
    assert "--zoom-mode" in msg and "'pan_left'" in msg
    msg = usage("veo x --model veo4")
    assert "veo3_fast" in msg
    msg = usage("video --model seedream a dog")
    assert "seedream" in msg and "veo31-video" in msg
    assert "1 to 20" in usage(f"image x -n {MAX_REPEATS + 1}")
    assert "takes no value" in usage("image x --no-wait=1")
    assert "needs a value" in usage("image x --aspect-ratio")


def test_missing_required_field_is_named() -> None:
    msg = usage("image")
    assert "PROMPT" in msg and "is required" in msg
    msg = usage("seedance ab")
    assert "3 to 2500" in msg
    assert "--input-urls: is required" in usage("kling --video-urls http://a/v.mp4")


# ---------------------------------------------------------------- other subcommands


def test_cost_needs_no_required_fields_and_prices() -> None:
    cmd = parse("cost video --model veo3 -n 2")
    assert isinstance(cmd, Cost)
    assert (cmd.service.name, cmd.estimate.credits, cmd.repeats) == ("veo31-video", 50.0, 2)
    sub = parse("cost subtitle --media-seconds 120")
    assert isinstance(sub, Cost) and sub.estimate.credits == catalog.subtitle_credits(120)
    tts = parse("cost speech", cell="x" * 250)
    assert isinstance(tts, Cost) and tts.estimate.credits == catalog.tts_credits(250)
    assert "--resolution" in usage("cost seedance --resolution 8K")
    assert "unknown service" in usage("cost imag")


def test_chat_parse() -> None:
    cmd = parse("chat --model openai/gpt-4o-mini --temperature 0.2", cell="Hello {who}", namespace={"who": "Phaya"})
    assert cmd == Chat(prompt="Hello Phaya", model="openai/gpt-4o-mini", temperature=0.2)
    assert parse("chat --reset") == Chat(prompt=None, reset=True)
    assert parse("chat what is 2+2?") == Chat(prompt="what is 2+2?")
    msg = usage("chat --model gpt-9 hi")
    assert "gpt-9" in msg and "phaya-gpt" in msg
    assert "nothing to say" in usage("chat")
    assert "0 to 2" in usage("chat --temperature 5 hi")


def test_account_and_tool_subcommands() -> None:
    assert parse("balance") == Plain("balance")
    assert parse("resume") == Plain("resume")
    assert parse("studio") == Plain("studio")
    assert parse("config") == Plain("config")
    assert parse("jobs -n 5 --service image --status completed") == Jobs(5, "text-to-image", "completed")
    assert parse("spend --by day") == Spend("day")
    assert parse("models") == Models(None)
    assert parse("models video") == Models("video")
    assert parse("") == Help(None)
    assert parse("help seedance") == Help("seedance")
    assert "'done'" in usage("jobs --status done")
    assert "day" in usage("spend --by week")
    assert "unexpected" in usage("balance now")
    assert "takes no cell body" in usage("balance", cell="x")
    assert "unknown help topic" in usage("help nothing")


def test_compare_parse() -> None:
    cmd = parse("compare --model image,seedream -n 2", cell="a fox\n\na cat\n")
    assert isinstance(cmd, Compare)
    assert cmd.prompts == ("a fox", "a cat")
    assert cmd.specs == ["text-to-image", "seedream"]
    assert cmd.total_credits == (1.0 + 1.5) * 2 * 2
    veo = parse("compare --model veo,veo3 --yes a fox")
    assert isinstance(veo, Compare) and veo.confirm
    assert veo.specs == ["veo31-video", ("veo31-video", {"model": "veo3"})]
    assert veo.total_credits == 15.0 + 50.0
    assert parse("compare") == Compare((), ())
    assert "name the models" in usage("compare a fox")
    msg = usage("compare --model kling x")  # kling needs more than a prompt
    assert "'kling'" in msg and "seedream" in msg


def test_help_text_is_generated_from_the_catalog() -> None:
    text = help_text()
    for kind in KINDS:
        assert f"%phaya {kind}" in text
    svc_help = help_text("seedance")
    for p in catalog.resolve_service("seedance").params:
        if p.name != "prompt":
            assert p.name.replace("_", "-") in svc_help
    assert "--zoom-mode" in help_text("ken-burns")
    assert "veo31-video" in help_text("video")
    assert help_text("video", {"video": "veo"}).splitlines()[1].startswith("  runs veo31-video")
    assert [s.name for s in kind_services("image")] == ["text-to-image", "seedream", "nano-banana",
                                                        "gpt-image-2-text-to-image", "gpt-image-2-image-to-image"]
