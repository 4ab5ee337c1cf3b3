"""python -m designer summary FILE lists the design hints after the table (--no-hints hides
them); hints the design file ignores are left out."""

import json
from pathlib import Path

from designer.cli import main
from designer.model.design_file import load, save

PRESETS = Path(__file__).resolve().parent.parent / "presets"
VGG = PRESETS / "vgg16.convnet.json"


def test_summary_lists_the_hints_after_the_table(capsys):
    assert main(["summary", str(VGG), "--batch", "128", "--budget", "12GB"]) == 0
    out = capsys.readouterr().out
    table, _, hints = out.partition("Design hints (4, from the notes' rules of thumb")
    assert "conv1_1" in table and "largest batch that fits: 97" in table
    assert "1. Batch 128 needs 15.5 GiB of 12 GiB: compromise at conv1_1  [compromise]" in hints
    assert "2. Batch 128 does not fit 12 GiB: the largest that does is 97" in hints
    assert "3. Getting rid of pooling: 5 POOLs as strided CONVs  [alternative]" in hints
    assert "4. FC → CONV: fc6, fc7, fc8 can be CONV layers" in hints
    assert 'from the notes: "Compromising based on memory constraints"' in hints
    assert "memory 15.5 GiB → 10.1 GiB" in hints
    assert "batch 128 → 97" in hints


def test_no_hints_hides_them(capsys):
    assert main(["summary", str(VGG), "--no-hints"]) == 0
    assert "Design hints" not in capsys.readouterr().out


def test_a_design_without_hints_says_so(capsys):
    assert main(["summary", str(PRESETS / "resnet20_cifar.convnet.json")]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("Design hints: none, the design follows the notes' rules of "
                                 "thumb.")


def test_ignored_hints_are_left_out(capsys, tmp_path):
    design = load(PRESETS / "lenet5.convnet.json")
    design.hints = {"ignored": ["pad:conv1", "pad:conv2"]}
    path = tmp_path / "lenet.convnet.json"
    save(design, path)
    assert main(["summary", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Design hints (1, from the notes' rules of thumb; 2 ignored in the design file" in out
    assert "zero-pad" not in out and "Getting rid of pooling" in out


def test_json_has_the_hints_with_their_predictions(capsys):
    assert main(["summary", str(PRESETS / "lenet5.convnet.json"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    first = data["hints"][0]
    assert first["key"] == "pad:conv1" and first["section"] == "Reducing sizing headaches"
    assert first["edit"] == ["conv1: padding = 2"]
    assert first["effect"]["before"]["params"] == 61_706
    assert first["effect"]["after"]["rf"] == [5, 5]
    assert main(["summary", str(PRESETS / "lenet5.convnet.json"), "--json", "--no-hints"]) == 0
    assert "hints" not in json.loads(capsys.readouterr().out)
