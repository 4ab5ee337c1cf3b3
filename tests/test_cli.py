"""The command line: python -m designer summary FILE [...]."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from designer.cli import main

ROOT = Path(__file__).resolve().parent.parent
CIFAR = ROOT / "presets" / "cifar10_example.convnet.json"


def test_summary_table_and_memory(capsys):
    assert main(["summary", str(CIFAR)]) == 0
    out = capsys.readouterr().out
    assert "32×32×12" in out and "16×16×12" in out and "1×1×10" in out
    assert "31,066 trainable" in out
    assert "activation gradients" in out and "saved for backward" in out


def test_summary_options_and_budget(capsys):
    assert main(["summary", str(CIFAR), "--batch", "64", "--dtype", "fp16", "--optimizer",
                 "adam", "--budget", "1MB"]) == 0
    out = capsys.readouterr().out
    assert "batch 64, fp16, adam" in out
    assert "budget 1 MiB: batch 64 does NOT fit; largest batch that fits:" in out


def test_summary_json_is_machine_readable(capsys):
    assert main(["summary", str(CIFAR), "--json", "--batch", "2", "--budget", "12GB"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["totals"]["params"] == 31066
    assert [layer["whd"] for layer in data["layers"]] == [
        "32×32×3", "32×32×12", "32×32×12", "16×16×12", "1×1×10"]
    assert data["memory"]["textbook"]["budget"] == 12 * 1024**3
    assert data["memory"]["textbook"]["fits"] is True


def test_vgg16_shows_the_notes_breakdown(capsys):
    assert main(["summary", str(ROOT / "presets" / "vgg16.convnet.json")]) == 0
    out = capsys.readouterr().out
    assert "138,357,544 trainable" in out
    assert "forward per image 15.2 M values" in out and "58.1 MiB in fp32" in out


@pytest.mark.parametrize("content,expected", [
    ("{", "not valid JSON"),
    ('{"format": "something-else"}', "format: expected"),
    ('{"format": "convnet-designer", "version": 1, "nodes": [{"id": "a", "type": "Conv"}]}',
     "nodes[0].type: unknown layer type"),
])
def test_bad_files_give_one_line_and_exit_code_2(tmp_path, capsys, content, expected):
    bad = tmp_path / "bad.convnet.json"
    bad.write_text(content)
    assert main(["summary", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err and str(bad) in err


def test_bad_budget_is_refused(capsys):
    assert main(["summary", str(CIFAR), "--budget", "lots"]) == 2
    assert "--budget" in capsys.readouterr().err


def test_runs_as_a_module_without_importing_torch_or_qt():
    code = ("import sys; import designer.cli as m; "
            f"m.main(['summary', {str(CIFAR)!r}]); "
            "print('torch' in sys.modules, 'PySide6' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout
    assert out.strip().endswith("False False")


def test_output_cut_off_by_a_pipe_is_no_error():
    """`summary --json | head` ended in a BrokenPipeError traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "designer", "summary",
                             str(ROOT / "presets" / "resnet152.convnet.json"), "--json"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()  # what head does after its lines
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_every_command_has_a_description():
    from designer.cli import COMMANDS, parser

    p = parser()
    sub = next(a for a in p._actions if a.dest == "command")
    for command in COMMANDS:
        assert sub.choices[command].description, command


def test_largest_batch_is_a_whole_number(capsys):
    assert main(["summary", str(ROOT / "presets" / "vgg16.convnet.json"), "--budget", "12GB",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    for kind in ("textbook", "pytorch"):
        assert isinstance(data["memory"][kind]["max_batch"], int)
    assert main(["summary", str(ROOT / "presets" / "vgg16.convnet.json"), "--budget",
                 "12GB"]) == 0
    assert "largest batch that fits: 155\n" in capsys.readouterr().out


def test_each_fix_says_what_it_does_to_the_design(tmp_path, capsys):
    """A fix is shown with its effect (output, params, MACs, memory before → after), in the
    table and in --json, as the window shows it: the notes' 2×2 POOL on 29×29."""
    path = tmp_path / "pool.convnet.json"
    path.write_text(json.dumps({
        "format": "convnet-designer", "version": 1, "name": "pool on 29",
        "nodes": [{"id": "input", "type": "Input",
                   "params": {"channels": 3, "height": 29, "width": 29}},
                  {"id": "pool", "type": "MaxPool2d", "params": {"kernel_size": 2, "stride": 2}}],
        "edges": [{"from": "input", "to": "pool"}]}), encoding="utf-8")
    assert main(["summary", str(path)]) == 0
    out = capsys.readouterr().out
    assert "fix: ceil_mode false → true (output 14×14×3 → 15×15×3, params 0 → 0" in out
    assert "fix: stride 2 → 3" not in out  # never a stride larger than the window
    assert main(["summary", str(path), "--json"]) == 0
    (issue,) = json.loads(capsys.readouterr().out)["layers"][1]["issues"]
    fixes = {f["label"]: f for f in issue["fixes"]}
    effect = {e["what"]: (e["before"], e["after"]) for e in fixes["ceil_mode false → true"]
              ["effect"]}
    assert effect["output"] == ("14×14×3", "15×15×3")
    assert effect["warnings"] == ("1", "0")
    assert fixes["ceil_mode false → true"]["params"] == {"ceil_mode": True}
