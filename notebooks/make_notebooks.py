"""Generate the demo notebooks from one script, so they stay consistent.

    .venv/bin/python notebooks/make_notebooks.py          # rewrite notebooks/*.ipynb
    .venv/bin/python notebooks/make_notebooks.py --check  # exit 1 if a committed file differs

Every notebook runs top to bottom on the offline sandbox (no key: ``connect()`` starts it)
and is written without outputs. Cells are plain strings below; the ids are derived from the
notebook name and the cell's position, so regenerating an unchanged notebook changes nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

CONNECT = """\
import phaya_notebook

# No PHAYA_API_KEY: this starts the offline sandbox (play credits, synthetic media).
# With PHAYA_API_KEY (and optionally PHAYA_BASE) set, the same code talks to the real Phaya.
phaya = phaya_notebook.connect()"""

#: CONNECT, plus the one way to print an amount ("1 credit", "2.5 credits")
CONNECT_TEXT = CONNECT.replace(
    "import phaya_notebook\n",
    "import phaya_notebook\nfrom phaya_notebook.catalog import credits_text  # \"1 credit\", \"2.5 credits\"\n")

LIVE_NOTE = (
    "> Runs as is with **no key**: `connect()` starts an offline sandbox that speaks the Phaya API "
    "with play credits and synthetic media. Set `PHAYA_API_KEY` (and `PHAYA_BASE`) before starting "
    "Jupyter to use the real service — then every job costs real credits."
)

NOTEBOOKS: dict[str, list[tuple[str, str]]] = {
    "quickstart": [
        ("md", "# Phaya quickstart\n\nConnect, check the balance, then make an image, a video, music "
               "and speech and chat — each result shown inline with what it cost.\n\n" + LIVE_NOTE),
        ("code", CONNECT_TEXT + """
print("balance:", credits_text(phaya.credits()))"""),
        ("md", "## An image\n\nThe price is known before anything runs: `estimate` asks no server."),
        ("code", """\
prompt = "a red lighthouse on a cliff at dawn, watercolor"
print("estimate:", credits_text(phaya.estimate("text-to-image", prompt=prompt, aspect_ratio="16:9").credits))
image = phaya.generate("text-to-image", prompt=prompt, aspect_ratio="16:9")
print("cost:", credits_text(image.credits))
image"""),
        ("md", "## A video\n\nAnimate the image we just made (a Ken Burns pan, 0.5 credits)."),
        ("code", """\
video = phaya.generate("image-to-video", image_url=image.url, duration=4, zoom={"mode": "pan_right"})
print("cost:", credits_text(video.credits))
video"""),
        ("md", "## Music\n\nSuno makes two takes of every song; both are shown."),
        ("code", """\
music = phaya.generate("text-to-music", prompt="waves and a slow piano at dawn", style="ambient",
                       instrumental=True)
print(f"cost: {credits_text(music.credits)} for {len(music.paths)} tracks")
music"""),
        ("md", "## Speech"),
        ("code", """\
speech = phaya.generate("text-to-speech", prompt="Good morning from the lighthouse.", voice="Kore")
print("cost:", credits_text(speech.credits))
speech"""),
        ("md", "## Chat\n\nChat answers at once (no job); its cost is a fraction of a credit."),
        ("code", """\
from phaya_notebook.display import render

reply = phaya.chat("Write a two-line poem about a lighthouse.")
print(f"cost: {credits_text(reply.credits)}, {reply.usage.get('total_tokens')} tokens")
render(reply)  # Markdown, with the model, tokens and credits"""),
        ("md", "## What it all cost\n\nEvery job is in the job log (`.phaya/jobs.sqlite3` next to this "
               "notebook); `jobs()` and `spend()` are pandas DataFrames."),
        ("code", """\
print("balance now:", credits_text(phaya.credits()))
phaya.spend()"""),
        ("code", """\
phaya.jobs()[["service", "model", "status", "estimated", "charged", "duration"]]"""),
    ],
    "studio": [
        ("md", "# Studio\n\nType a prompt, pick a model (each shows its price), watch the cost label, "
               "click **Generate**. Jobs run in the background — other cells keep working — and "
               "results land in the gallery, newest first, with their cost and time.\n\n" + LIVE_NOTE),
        ("code", CONNECT_TEXT),
        ("code", """\
studio = phaya.studio()
studio"""),
        ("md", "While jobs run, the kernel is free:"),
        ("code", """\
print("balance:", credits_text(phaya.credits()))"""),
    ],
    "magics": [
        ("md", "# Magics tour\n\n`%load_ext phaya_notebook` adds `%phaya` and `%%phaya`. Mistakes "
               "(an unknown flag, a bad value) are refused before any request, naming what is "
               "allowed.\n\n" + LIVE_NOTE),
        ("code", "%load_ext phaya_notebook"),
        ("code", "%phaya config"),
        ("code", "%phaya balance"),
        ("md", "What there is, and what it costs:"),
        ("code", "%phaya models"),
        ("code", "%phaya cost image --aspect-ratio 16:9"),
        ("md", "Make an image. `{name}` takes a value from the notebook; the result is returned too."),
        ("code", """\
from phaya_notebook.catalog import credits_text  # "1 credit", "2.5 credits"

subject = "a paper boat on a puddle"
img = %phaya image "{subject}, macro photo" --aspect-ratio 4:3
print(credits_text(img.credits))"""),
        ("md", "A cell magic takes the whole cell as the prompt:"),
        ("code", """\
%%phaya speech --voice Aoede
Hello! This sentence was typed into a cell and read aloud by the sandbox."""),
        ("code", '%phaya music "a cheerful ukulele tune" --instrumental'),
        ("md", "Chat streams its answer; the conversation continues until `%phaya chat --reset`."),
        ("code", """\
%%phaya chat
Suggest a name for a paper boat, in one word."""),
        ("code", """\
%%phaya chat
Why that name?"""),
        ("code", "%phaya chat --reset"),
        ("md", "The job log and the spend, as DataFrames:"),
        ("code", "%phaya jobs -n 5"),
        ("code", "%phaya spend"),
        ("code", "%phaya help"),
    ],
    "compare": [
        ("md", "# Compare prompts across models\n\nThe same prompts on several image models — Z-Image, "
               "Seedream, Nano Banana 2 and GPT Image 2 — as a grid you can click, then the same comparison "
               "as a DataFrame, analysed and plotted.\n\n" + LIVE_NOTE),
        ("code", CONNECT_TEXT),
        ("code", """\
prompts = ["a fox in the snow, ukiyo-e", "a neon city street in the rain"]
models = [("text-to-image", {}), ("seedream", {"quality": "basic"}), ("nano-banana", {"resolution": "1K"}),
          ("gpt-image-2-text-to-image", {"resolution": "1K", "aspect_ratio": "auto"})]
total = sum(phaya.estimate(svc, prompt=p, **params).credits for p in prompts for svc, params in models)
print(f"{len(prompts) * len(models)} jobs, {credits_text(total)} in total")"""),
        ("md", "## The grid widget\n\nEdit the prompts, pick models, click **Compare…**, confirm the "
               "total, and watch the cells fill in."),
        ("code", """\
grid = phaya.compare_grid()
grid.prompts.value = "\\n".join(prompts)
grid.models.value = tuple(svc for svc, _ in models)
grid"""),
        ("md", "## The same from code\n\n`compare` submits the whole grid under the budget and the "
               "confirm rule and waits for it; the table escapes every prompt."),
        ("code", """\
comparison = phaya.compare(prompts, models, confirm=True)
comparison"""),
        ("code", """\
df = comparison.df
df.head()"""),
        ("md", "## Analysis: credits and time per model"),
        ("code", """\
per_model = df.groupby("model", observed=True).agg(
    jobs=("status", "size"),
    completed=("status", lambda s: int((s == "completed").sum())),
    credits=("credits", "sum"),
    mean_seconds=("duration", "mean"),
)
per_model"""),
        ("code", """\
import matplotlib.pyplot as plt

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))
per_model["credits"].plot.bar(ax=ax1, color="#4c72b0", title="credits per model")
per_model["mean_seconds"].plot.bar(ax=ax2, color="#dd8452", title="mean seconds per job")
for ax in (ax1, ax2):
    ax.set_xlabel("")
    ax.tick_params(axis="x", rotation=20)
fig.tight_layout()
plt.show()"""),
        ("md", "## What was really charged\n\nCatalog prices are estimates. After each run the session "
               "reconciles every job with the server (its credits history, else the balance change) and "
               "`prices()` lists the catalog price next to the last real charge; when they differ, the next "
               "estimate shows both and uses the higher."),
        ("code", "phaya.prices()"),
        ("md", "Keep it: CSV for a spreadsheet, Parquet for pandas later."),
        ("code", """\
import pandas as pd

comparison.to_csv("comparison.csv")
comparison.to_parquet("comparison.parquet")
pd.read_parquet("comparison.parquet").dtypes"""),
    ],
    "explore": [
        ("md", "# Which prompt and model is worth it?\n\nRun a few prompts on a few models, mark the "
               "results you would keep (👍) or throw away (👎), and let the log say what each kept "
               "result cost. Then send the comparison to someone who has no notebook.\n\n" + LIVE_NOTE),
        ("code", CONNECT),
        ("md", "## Run a comparison\n\nEach job shows a live line (status, seconds, credits) while "
               "the cell runs; the table below escapes every prompt."),
        ("code", """\
prompts = ["a paper boat on a pond, watercolor", "a lighthouse at dawn, ukiyo-e"]
models = ["text-to-image", "nano-banana"]
comparison = phaya.compare(prompts, models)
comparison"""),
        ("md", "## Rate what you would keep\n\nClick 👍 / 👎 under any result in the studio, the compare "
               "grid or the gallery — or rate in code: `1` keeps, `-1` rejects, `0` clears. Ratings go "
               "into the job log, so they survive a restart."),
        ("code", """\
verdicts = {  # (prompt number, model) -> rating
    (0, "text-to-image"): 1, (1, "text-to-image"): -1,
    (0, "nano-banana"): 1, (1, "nano-banana"): 1,
}
for row in comparison.df.itertuples():
    phaya.rate(row.job_id, verdicts[(prompts.index(row.prompt), row.service)])

kite = phaya.generate("text-to-image", prompt="a kite over sand dunes")
kite.rate(-1)  # a result can rate itself, too"""),
        ("md", "## Decide\n\n`summary()` per model for this run, `leaderboard()` over the whole log: "
               "jobs, completed, kept, keep rate, credits and **credits per kept result**."),
        ("code", "comparison.summary()"),
        ("code", "comparison.summary(by=\"prompt\")"),
        ("code", """\
import matplotlib.pyplot as plt

comparison.plot_summary()
plt.show()"""),
        ("code", "phaya.leaderboard()"),
        ("code", "phaya.jobs()[[\"model\", \"prompt\", \"status\", \"charged\", \"rating\"]]"),
        ("md", "## Browse the history\n\nEvery past job as a thumbnail with its cost; filter by model, "
               "tag, rating or words in the prompt; **Remix** puts a job's prompt and parameters back "
               "into a studio to edit and run again."),
        ("code", """\
gallery = phaya.gallery(page_size=12)
gallery"""),
        ("md", "## Share\n\nOne self-contained HTML file each: images embedded, small videos too, "
               "every prompt escaped. Open them in any browser, attach them to a mail."),
        ("code", """\
from IPython.display import FileLink, display

report = comparison.to_html("comparison-report.html", title="Boats and lighthouses")
history = gallery.to_html("history-report.html")
display(FileLink(report.name), FileLink(history.name))
print(f"{report.stat().st_size / 1024:.0f} KB and {history.stat().st_size / 1024:.0f} KB")"""),
    ],
    "chat": [
        ("md", "# Streaming chat\n\nReplies arrive token by token; each shows its tokens and "
               "credits.\n\n" + LIVE_NOTE),
        ("code", CONNECT_TEXT),
        ("md", "## The chat widget"),
        ("code", """\
box = phaya.chat_box()
box"""),
        ("md", "## Streaming from code\n\n`chat_stream` yields chunks as they arrive; the last one "
               "carries the usage and the cost."),
        ("code", """\
from IPython.display import Markdown, display

handle = display(Markdown("…"), display_id=True)
text, last = "", None
for chunk in phaya.chat_stream("Explain in three short sentences what a lighthouse keeper did."):
    text += chunk.text
    handle.update(Markdown(text))
    last = chunk
print(f"{last.usage.get('total_tokens')} tokens, {credits_text(last.credits)}")"""),
        ("md", "## A conversation, not streamed"),
        ("code", """\
from phaya_notebook.display import render

messages = [
    {"role": "system", "content": "You answer in one sentence."},
    {"role": "user", "content": "Name a famous lighthouse."},
]
reply = phaya.chat(messages)
messages.append({"role": "assistant", "content": reply.text})
messages.append({"role": "user", "content": "Where is it?"})
render(phaya.chat(messages))"""),
    ],
    "app": [
        ("md", "# Phaya studio\n\nA prompt, a model, a price, a button. Served as an app with "
               "`voila notebooks/app.ipynb`."),
        ("code", """\
import phaya_notebook

phaya_notebook.connect().studio()"""),
    ],
}


def build(name: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = new_notebook(metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
        "language_info": {"name": "python"},
    })
    for i, (kind, src) in enumerate(cells):
        cell = new_markdown_cell(src) if kind == "md" else new_code_cell(src)
        cell["id"] = f"{name}-{i:02d}"
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, cells in NOTEBOOKS.items():
        text = nbformat.writes(build(name, cells)) + "\n"
        path = HERE / f"{name}.ipynb"
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
            print("wrote", path.relative_to(HERE.parent))
    if stale:
        print("out of date (run notebooks/make_notebooks.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
