"""The robustness suite's cases: what hostile input each one gives mmkeras and what mmkeras does with it.

The tests (`test_robust_*.py`) run these lists; `readme_table.py` turns them
into the README's table of cases x behaviour. A row case puts one bad cell
into row 0 of a split of the tiny demo table and runs the check before
training (`mmkeras.data.prepass.check_source`, the checks of `mmkeras
validate`): `expect` is the start of the bad row's reason, or None when the
cell is accepted.
"""

import collections

import hostile

RowCase = collections.namedtuple("RowCase", "id input split make expect behaviour")
TableCase = collections.namedtuple("TableCase", "id what expect behaviour")
SpecCase = collections.namedtuple("SpecCase", "id yaml expect behaviour")
OtherCase = collections.namedtuple("OtherCase", "id what behaviour test")

_DECODE = "bad row: does not decode"
_ROOT = "bad row: the path leaves the data root (accepted with data.allow_outside_root: true)"


def _cell(value):
    return lambda root: value


ROW_CASES = [
    RowCase("truncated_png", "picture", "train", hostile.truncated_png, "does not decode: Invalid PNG", _DECODE),
    RowCase("zero_byte_png", "picture", "train", hostile.zero_byte_png, "does not decode: Not a PNG", _DECODE),
    RowCase("jpeg_named_png", "picture", "train", hostile.jpeg_named_png, None,
            "accepted: images decode by their content, not their name"),
    RowCase("text_named_png", "picture", "train", hostile.text_named_png, "does not decode: Not a PNG", _DECODE),
    RowCase("directory_as_file", "picture", "train", hostile.directory_as_file, "file not found",
            "bad row: file not found"),
    RowCase("missing_file", "picture", "train", hostile.missing_file, "file not found", "bad row: file not found"),
    RowCase("dot_dot_path", "picture", "train", hostile.dot_dot_path, "the path leaves the data root", _ROOT),
    RowCase("absolute_path", "picture", "train", hostile.absolute_path, "the path leaves the data root", _ROOT),
    RowCase("symlink_out", "picture", "train", hostile.symlink_out, "the path leaves the data root", _ROOT),
    RowCase("wav_truncated", "sound", "train", hostile.truncated_wav, "cannot read audio file",
            "bad row: cannot read audio file"),
    RowCase("wav_header_longer_than_data", "sound", "train", hostile.header_longer_than_data,
            "does not decode: Data too short", _DECODE),
    RowCase("wav_8bit", "sound", "train", hostile.wav_8bit, None, "accepted: converted to 16-bit PCM"),
    RowCase("wav_24bit", "sound", "train", hostile.wav_24bit, None, "accepted: converted to 16-bit PCM"),
    RowCase("wav_float", "sound", "train", hostile.wav_float, None, "accepted: converted to 16-bit PCM"),
    RowCase("wav_stereo", "sound", "train", hostile.wav_stereo, None, "accepted: converted to 16-bit PCM mono"),
    RowCase("wav_other_rate", "sound", "train", hostile.wav_other_rate, "does not decode: Sample rate",
            "bad row: sample rate differs from the spec's (resample: true resamples it)"),
    RowCase("numeric_string", "reading", "train", _cell("twelve"), "'twelve' is not a number",
            "bad row: not a number"),
    RowCase("numeric_nan", "reading", "train", _cell(float("nan")), None, "accepted: a missing value"),
    RowCase("numeric_inf", "reading", "train", _cell(float("inf")), None,
            "accepted: like NaN, a missing value (imputed, flagged by missing_indicator)"),
    RowCase("text_not_utf8", "caption", "train", _cell("caf\udce9 au lait"), "not valid UTF-8 text",
            "bad row: not valid UTF-8 text"),
    RowCase("text_1mb", "caption", "train", _cell("word " * 200_000), None,
            "accepted: cut to sequence_length tokens"),
    RowCase("unseen_category", "colour", "validation", _cell("ultraviolet"), None,
            "accepted: an out-of-vocabulary category"),
    RowCase("unseen_label", "label", "validation", _cell("hexagon"), "'hexagon' is not a class seen in training",
            "bad row: a class not seen in training"),
]

TABLE_CASES = [
    TableCase("duplicate_columns", "two columns named `reading`", "duplicate column name(s) ['reading']",
              "DataError naming the table and the column"),
    TableCase("empty_split", "no row has split == test", "No row of",
              "DataError naming the split, the column and the values present"),
    TableCase("table_not_utf8", "a CSV in Latin-1", "Could not read table",
              "DataError naming the table and the reader options"),
    TableCase("missing_column", "the table lacks an input column", "column missing",
              "DataError naming the column and the columns present (never skipped)"),
    TableCase("every_row_bad", "every train row is bad, on_error: skip", "Every row of the train split",
              "DataError: nothing left to train on"),
]

SPEC_CASES = [
    SpecCase("spec_empty", "", "the spec is empty", "SpecError naming the file"),
    SpecCase("spec_list", "- a\n- b\n", "a mapping", "SpecError naming the file"),
    SpecCase("spec_python_tag", "!!python/object/apply:os.system ['echo owned']\n", "YAML",
             "SpecError (safe loading: no Python object is built)"),
    SpecCase("spec_not_yaml", "name: [unclosed\n", "YAML", "SpecError naming the file"),
    SpecCase("spec_not_utf8", b"name: caf\xe9\n", "not valid YAML", "SpecError naming the file"),
    SpecCase("typo_top", {"trainig": {"epochs": 1}}, "trainig", "SpecError naming the key"),
    SpecCase("typo_training", {"training": {"epochz": 1}}, "training.epochz", "SpecError naming the key path"),
    SpecCase("typo_split", {"data": {"split": {"trian": "train"}}}, "data.split.trian",
             "SpecError naming the key path"),
    SpecCase("typo_input", {"inputs": {"picture": {"heigth": 3}}}, "inputs.picture.heigth",
             "SpecError naming the key path"),
    SpecCase("typo_encoder", {"inputs": {"picture": {"encoder": {"filtrs": [8]}}}}, "filtrs",
             "SpecError naming the key path"),
    SpecCase("typo_output", {"outputs": {"label": {"colum": "label"}}}, "outputs.label.colum",
             "SpecError naming the key path"),
    SpecCase("wrong_type_epochs", {"training": {"epochs": "ten"}}, "training.epochs",
             "SpecError naming the key path and the value"),
    SpecCase("wrong_type_inputs", {"inputs": ["picture"]}, "inputs", "SpecError naming the key path"),
    SpecCase("wrong_type_hidden_units", {"fusion": {"hidden_units": "wide"}}, "fusion.hidden_units",
             "SpecError naming the key path and the value"),
    SpecCase("wrong_value_on_error", {"data": {"on_error": "ignore"}}, "data.on_error",
             "SpecError naming the key path and the allowed values"),
    SpecCase("wrong_type_allow_outside_root", {"data": {"allow_outside_root": "yes"}}, "data.allow_outside_root",
             "SpecError naming the key path"),
    SpecCase("unknown_output_type", {"outputs": {"label": {"type": "regresion"}}}, "outputs.label.type",
             "SpecError naming the key path and the registered types"),
]

OTHER_CASES = [
    OtherCase("cli_train_bad_row", "`mmkeras train` on a table with a corrupt PNG",
              "exit 2 before training: one line naming row, column and file, no TensorFlow node names; "
              "no run directory made", "test_robust_cli.py"),
    OtherCase("cli_train_bad_row_overwrite", "the same with `--overwrite` over an existing run",
              "exit 2; the existing run's files are untouched", "test_robust_cli.py"),
    OtherCase("cli_debug", "`mmkeras --debug` on a data error", "also prints TensorFlow's own text, when there is one",
              "test_robust_cli.py"),
    OtherCase("cli_train_skip", "`mmkeras train` with data.on_error: skip",
              "trains on the good rows; RUN_DIR/bad_rows.csv and bad_rows.json (count per reason)",
              "test_robust_cli.py"),
    OtherCase("cli_predict_bad_rows", "`mmkeras predict` on a table with a corrupt PNG and a missing file",
              "exit 2 naming row, column and file; with `--on-error skip`: every good row predicted, the bad ones "
              "left empty and listed in OUT.bad_rows.csv", "test_robust_cli.py"),
    OtherCase("disk_full", "ENOSPC while writing a run's file (a fake full disk)",
              "the previous file intact, no temporary file left; the command line says so in one line, exit 2",
              "test_robust_trust.py"),
    OtherCase("spec_fuzz", "random and mutated specs (hypothesis)", "load_spec raises only SpecError naming a key",
              "test_robust_fuzz.py"),
    OtherCase("no_pickle", "pickle / marshal / eval in the package", "none (a test greps the package)",
              "test_robust_trust.py"),
    OtherCase("keras_safe_mode", "a `.keras` file with a lambda layer", "refused: loaded with safe_mode=True",
              "test_robust_trust.py"),
]
