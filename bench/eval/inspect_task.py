"""The Inspect AI side of the eval benchmark: the same task modelgate runs in bench/eval/run.sh.

    inspect eval bench/eval/inspect_task.py --model openai/stub --model-base-url URL \
        --max-connections N --display none --log-dir DIR -T dataset=PATH

One user message per item (no system prompt), one `generate()` call, and the `match()` scorer
on the end of the answer, compared as a number. `-T dataset=` picks the JSONL file
(bench/eval/make_dataset.py writes it).
"""

from inspect_ai import Task, task
from inspect_ai.dataset import FieldSpec, json_dataset
from inspect_ai.scorer import match
from inspect_ai.solver import generate


@task
def calc(dataset: str = "bench/out/eval/calc.jsonl") -> Task:
    return Task(
        dataset=json_dataset(dataset, FieldSpec(input="input", target="target", id="id")),
        solver=generate(),
        scorer=match(location="end", numeric=True),
    )
