"""The panel of the "Inside the network" dock (dock.py makes it when the dock is first
shown): a sample picker, the four views in tabs (maps.py, filters.py, confusion.py,
mistakes.py), Refresh and Export PNG.

Where the pictures come from:
- while training, the TrainWorker's probes: the Trainer probes its model on its own thread at
  every epoch end (and after a batch when Refresh is pressed or another sample chosen), so
  nothing races the optimizer; the reports are plain numpy arrays of bounded size, and the panel
  draws at most RENDER_MS apart, only what is visible;
- otherwise a Prober (designer/training/probes.py) in a background thread: of the last run's
  trained model while the design and the data settings are unchanged since, else of a freshly
  built model with the training settings' seed (the weights a run would start from), on the
  training settings' data.
"""

from __future__ import annotations

import random
import threading
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ....model.analysis import analyze
from ....model.network import Network
from ....training.events import ProbeRequest, TrainConfig
from .confusion import ConfusionView
from .fields import ReceptiveFields
from .filters import FiltersView
from .maps import FeatureMapView, InputView
from .mistakes import MisclassifiedView
from .text import layer_kind, sample_text
from .tiles import picture_pixels

RENDER_MS = 100  # reports that come faster are drawn at most this often (the latest wins)
WRONG = 24  # thumbnails of the most confidently wrong samples
IMAGE_FILTER = ("Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.ppm *.pgm *.tif *.tiff);;"
                "All files (*)")
TABS = ("maps", "filters", "confusion", "wrong")


class InsidePanel(QWidget):
    """Sample picker, the four views in tabs, Refresh and Export PNG."""

    status_message = Signal(str)
    _job_done = Signal(object)  # from a background probe: (prober, its key, the design's
    #                             key, report or exception)

    def __init__(self, window: QMainWindow, parent: QWidget | None = None):
        super().__init__(parent)
        self.main_window = window
        self.doc = window.doc
        self.training = getattr(window, "training", None)
        self.report: Any = None  # the report shown
        self.evaluated: Any = None  # the latest report with an evaluation
        self._pending: Any = None
        self._dirty: set[str] = set()
        self.prober: Any = None  # between runs: what a local probe probes
        self._prober_key: Any = None  # the design, data and seed it was built from
        self._report_key: Any = None  # the design the shown report is of
        self._data: dict[Any, Any] = {}
        self._image: Any = None  # pixels of an image file, (H, W, 4) uint8
        self._image_name = ""
        self.worker: Any = None
        self._job: threading.Thread | None = None
        self._again: tuple | None = None
        self.layer_id: str | None = None
        self.busy = False

        self._build()
        self._job_done.connect(self._job_finished)
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.timeout.connect(self._render)
        self._sample_timer = QTimer(self)
        self._sample_timer.setSingleShot(True)
        self._sample_timer.setInterval(150)
        self._sample_timer.timeout.connect(self.refresh)
        self.doc.selection_changed.connect(self._canvas_selected)
        self.doc.changed.connect(self._design_changed)
        if self.training is not None:
            self.training.running_changed.connect(self.training_changed)
        if self.training is not None and self.training.worker is not None:
            self.attach(self.training.worker)
        else:
            QTimer.singleShot(0, self.refresh)

    # ----------------------------------------------------------------------------- building

    def _build(self) -> None:
        self.sample = QSpinBox()
        self.sample.setRange(0, 999_999)  # until the data set says how many
        self.sample.setPrefix("sample ")
        self.sample.setToolTip("Which validation sample to look at")
        self.sample.valueChanged.connect(self._sample_edited)
        self.random_button = QPushButton("Random")
        self.random_button.setToolTip("A random validation sample")
        self.random_button.clicked.connect(self.random_sample)
        self.file_button = QPushButton("Image file…")
        self.file_button.setToolTip("Look at a picture of your own (resized and normalised like "
                                    "the data set)")
        self.file_button.clicked.connect(self.choose_image)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Probe the network now (while training: after the "
                                       "current batch)")
        self.refresh_button.clicked.connect(self.refresh)
        self.export_button = QPushButton("Export PNG…")
        self.export_button.setToolTip("Save the view in front as a PNG picture")
        self.export_button.clicked.connect(lambda: self.export_png())
        self.status = QLabel(" ")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)

        bar = QHBoxLayout()
        bar.setSpacing(4)
        for w in (self.sample, self.random_button, self.file_button):
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(self.refresh_button)
        bar.addWidget(self.export_button)

        self.input_view = InputView()
        self.layer_list = QListWidget()
        self.layer_list.setToolTip("The layer whose maps are shown (or select it on the canvas)")
        self.layer_list.currentItemChanged.connect(self._list_selected)
        left = QSplitter(Qt.Vertical)
        left.addWidget(self.input_view)
        left.addWidget(self.layer_list)
        left.setSizes([200, 260])
        self.maps_view = FeatureMapView()
        self.fields = ReceptiveFields(self)  # hovering a unit outlines what it sees
        maps_page = QSplitter(Qt.Horizontal)
        maps_page.addWidget(left)
        maps_page.addWidget(self.maps_view)
        maps_page.setStretchFactor(1, 1)
        maps_page.setSizes([240, 900])
        self.filters_view = FiltersView()
        self.confusion_view = ConfusionView()
        self.confusion_view.sample_chosen.connect(self.show_sample)
        self.confusion_view.evaluate_requested.connect(self.evaluate)
        self.wrong_view = MisclassifiedView()
        self.wrong_view.sample_chosen.connect(self.show_sample)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.pages = {"maps": maps_page, "filters": self.filters_view,
                      "confusion": self.confusion_view, "wrong": self.wrong_view}
        for key, title in zip(TABS, ("Feature maps", "Filters", "Confusion matrix",
                                     "Misclassified")):
            self.tabs.addTab(self.pages[key], title)
        self.tabs.currentChanged.connect(lambda _i: self._draw_current())

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 6)
        layout.setSpacing(4)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        layout.addWidget(self.tabs, 1)

    # ----------------------------------------------------------------------------- requests

    def request(self) -> ProbeRequest:
        return ProbeRequest(sample=self.sample.value(), image=self._image,
                            image_name=self._image_name, wrong=WRONG)

    def refresh(self) -> None:
        """Probe now: the training run (after its current batch) or, between runs, in a
        background thread."""
        if self.worker is not None:
            self.worker.set_probe(self.request())
            self.worker.request_probe()
            self._say("Probing after the current batch…")
        else:
            self._probe_locally(evaluate=False)

    def evaluate(self) -> None:
        """The confusion matrix of the weights shown, between runs (a pass over the
        validation set); while training it comes with every epoch anyway."""
        if self.worker is not None:
            self._say("While training, the confusion matrix comes at the end of every epoch.")
            return
        self._probe_locally(evaluate=True)

    def show_sample(self, index: int) -> None:
        """Look at validation sample `index` (a click in the galleries)."""
        self._use_data_set()
        self.sample.setValue(int(index))
        self._sample_timer.stop()
        self.tabs.setCurrentIndex(TABS.index("maps"))
        self.refresh()

    def random_sample(self) -> None:
        if self.sample.maximum() > 0:
            self.show_sample(random.randint(0, self.sample.maximum()))

    def choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Image to look at", "", IMAGE_FILTER)
        if path:
            self.use_image_file(path)

    def use_image_file(self, path: str) -> bool:
        """Look at a picture file instead of a validation sample."""
        from pathlib import Path

        image = QImage(path)
        if image.isNull():
            self._say(f"Could not read the image {path}: not a picture Qt can open.", error=True)
            return False
        self._image = picture_pixels(image)
        self._image_name = Path(path).name
        self.refresh()
        return True

    def _use_data_set(self) -> None:
        self._image, self._image_name = None, ""

    def _sample_edited(self, _value: int) -> None:
        self._use_data_set()
        self._sample_timer.start()  # a held arrow key asks once

    # ----------------------------------------------------------------------------- training

    def training_changed(self, running: bool) -> None:
        if running and self.training is not None and self.training.worker is not None:
            self.attach(self.training.worker)

    def attach(self, worker) -> None:
        """Take probes from a training run (and, after it, its trained model)."""
        if worker is self.worker:
            return
        self.worker = worker
        self.evaluated = None  # the confusion matrix of this run's weights, when they come
        worker.set_probe(self.request())
        worker.probed.connect(self._on_report)
        worker.finished.connect(lambda result, w=worker: self._run_finished(w, result))
        worker.request_probe()  # a first look as soon as the first batch is done
        self._say("Training: the maps refresh at the end of every epoch.")

    def _run_finished(self, worker, result) -> None:
        if worker is not self.worker:
            return
        self.worker = None
        if worker.prober is not None:
            self.prober = worker.prober
            self._prober_key = _prober_key(worker.network, worker.config,
                                           getattr(worker, "run_id", None))
        last = self.evaluated.epoch if self.evaluated is not None else None
        done = getattr(result, "epochs_done", 0)
        if self.prober is not None and done and last != done:
            self._probe_locally(evaluate=True)  # the last epoch's probe was skipped
        elif self.report is not None and self.report.epoch is not None:
            self._say(f"Training {getattr(result, 'status', 'ended')} · {self.report.weights}")
        else:
            self._say(f"Training {getattr(result, 'status', 'ended')}.")

    def _on_report(self, report) -> None:
        if getattr(report, "error", ""):
            self._say(f"The probe failed: {report.error}", error=True)
            return
        worker = self.sender() if isinstance(self.sender(), QObject) else self.worker
        network = getattr(worker, "network", None) or getattr(self.worker, "network", None)
        self._take(report, _network_key(network) if network is not None else None)

    # ----------------------------------------------------------------------------- local probes

    def _probe_locally(self, evaluate: bool) -> None:
        args = (self.doc.network.copy(), self._config(), self._datasets(), self.request(),
                evaluate, _trained(self.doc))
        if self._job is not None and self._job.is_alive():
            self._again = args
            return
        self._start_job(*args)

    def _start_job(self, network, config, datasets, request, evaluate, weights=None) -> None:
        key = _network_key(network)
        pkey = _prober_key(network, config, weights[0] if weights else None)
        prober = self.prober if self._prober_key == pkey else None
        if prober is None:
            self._say("Building the model and reading the data…")
        elif evaluate:
            self._say("Classifying the validation set…")
        self.busy = True
        self.refresh_button.setEnabled(False)
        self.confusion_view.evaluate_button.setEnabled(False)
        data_cache = self._data

        def work() -> None:
            try:
                result: Any = _probe_job(network, config, datasets, request, evaluate, prober,
                                         data_cache, weights)
                result = (result[0], pkey, key, result[1])
            except Exception as e:  # noqa: BLE001 - shown in the panel
                result = (None, pkey, key, e)
            try:
                self._job_done.emit(result)
            except RuntimeError:  # the panel is gone
                pass

        self._job = threading.Thread(target=work, name="probe", daemon=True)
        self._job.start()

    def _job_finished(self, result) -> None:
        prober, pkey, key, outcome = result
        self.busy = False
        self.refresh_button.setEnabled(True)
        self.confusion_view.evaluate_button.setEnabled(True)
        if prober is not None:
            self.prober, self._prober_key = prober, pkey
        if self._again is not None:
            args, self._again = self._again, None
            if self.worker is None:
                self._start_job(*args)
                return
        if self.worker is not None:
            return  # a run started meanwhile: its probes are what counts
        if isinstance(outcome, Exception):
            self._say(_error_text(outcome), error=True)
            return
        self._take(outcome, key)

    def _config(self) -> TrainConfig:
        config = getattr(self.training, "config", None)
        return TrainConfig.from_dict(config.to_dict()) if config is not None else TrainConfig()

    def _datasets(self):
        return getattr(self.training, "datasets", None)

    # ----------------------------------------------------------------------------- drawing

    def _take(self, report, key) -> None:
        self._pending = (report, key)
        if not self._render_timer.isActive():
            self._render_timer.start(0 if self.report is None else RENDER_MS)

    def _render(self) -> None:
        if self._pending is None:
            return
        if not self.isVisible():
            self._render_timer.start(500)  # drawn when the panel is seen again
            return
        report, key = self._pending
        self._pending = None
        self.report, self._report_key = report, key
        if report.evaluation is not None:
            self.evaluated = report
        self._fill_sample_range(report)
        self._fill_layers(report)
        self._status_for(report)
        self._dirty = set(TABS)
        self._draw_current()

    def _draw_current(self) -> None:
        tab = TABS[self.tabs.currentIndex()]
        if tab not in self._dirty or self.report is None:
            return
        self._dirty.discard(tab)
        r = self.report
        if tab == "maps":
            self.input_view.show_sample(r.sample, r.class_names, r.mean, r.std)
            self._draw_maps()
        elif tab == "filters":
            self.filters_view.show_filters(r.filters, r.weights)
        else:
            shown = self.evaluated if self.evaluated is not None else r
            if tab == "confusion":
                self.confusion_view.show_report(shown)
            else:
                self.wrong_view.show_report(shown)

    def _draw_maps(self) -> None:
        r = self.report
        if r is None:
            return
        fm = r.maps.get(self.layer_id) if self.layer_id else None
        note = ""
        if fm is None and self.layer_id:
            note = (f"The layer {self.layer_id} is not in the network these maps are of: "
                    "Refresh to see it.")
        self.maps_view.show_map(fm, note)

    def _fill_sample_range(self, report) -> None:
        n = max(int(report.val_size), 1)
        if self.sample.maximum() != n - 1:
            blocked = self.sample.blockSignals(True)
            self.sample.setRange(0, n - 1)
            self.sample.setSuffix(f" of {report.val_size:,}" if report.val_size else "")
            self.sample.blockSignals(blocked)
            widest = f"{self.sample.prefix()}{n - 1}{self.sample.suffix()}"
            self.sample.setMinimumWidth(self.sample.fontMetrics().horizontalAdvance(widest) + 40)
        self.sample.setEnabled(report.val_size > 0)
        self.random_button.setEnabled(report.val_size > 1)

    def _fill_layers(self, report) -> None:
        # each row as the report has it: the same ids can come back with other shapes (an undo
        # of a change of channels), and a row must not keep the shape of the maps before
        rows = [(nid, f"{nid}  ·  {layer_kind(fm.type)}  ·  {fm.whd}")
                for nid, fm in report.maps.items()]
        current = [(self.layer_list.item(i).data(Qt.UserRole), self.layer_list.item(i).text())
                   for i in range(self.layer_list.count())]
        if self.layer_id not in report.maps:
            self.layer_id = self._default_layer(report)
        if rows != current:
            blocked = self.layer_list.blockSignals(True)
            self.layer_list.clear()
            for nid, text in rows:
                item = QListWidgetItem(text)
                item.setData(Qt.UserRole, nid)
                self.layer_list.addItem(item)
            self.layer_list.blockSignals(blocked)
        self._select_in_list(self.layer_id)

    def _default_layer(self, report) -> str | None:
        selected = [i for i in self.doc.selection if i in report.maps]
        if len(selected) == 1:
            return selected[0]
        if report.filters is not None and report.filters.layer in report.maps:
            return report.filters.layer
        ids = [i for i, fm in report.maps.items() if fm.type != "Input"]
        return ids[0] if ids else next(iter(report.maps), None)

    def _select_in_list(self, nid: str | None) -> None:
        for i in range(self.layer_list.count()):
            item = self.layer_list.item(i)
            if item.data(Qt.UserRole) == nid:
                blocked = self.layer_list.blockSignals(True)
                self.layer_list.setCurrentItem(item)
                self.layer_list.blockSignals(blocked)
                self.layer_list.scrollToItem(item)
                return

    def _status_for(self, report) -> None:
        parts = ["Training"] if self.worker is not None else []
        if report.weights:
            parts.append(report.weights)
        if report.sample is not None:
            parts.append(sample_text(report.sample, report.class_names))
        if report.seconds:
            parts.append(f"probed in {1000 * report.seconds:.0f} ms")
        if self._report_key is not None and self._report_key != _network_key(self.doc.network):
            parts.append("the design has changed since: Refresh")
        self._say(" · ".join(parts))

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text or " ")
        self.status.setStyleSheet("color: #dc2626;" if error else "")
        if error:
            self.status_message.emit(text)

    # ----------------------------------------------------------------------------- selection

    def _list_selected(self, item, _previous=None) -> None:
        if item is None:
            return
        nid = item.data(Qt.UserRole)
        if nid == self.layer_id:
            return
        self.layer_id = nid
        self._draw_maps()
        if nid in self.doc.network.nodes and self.doc.selection != [nid]:
            self.doc.select([nid])  # the canvas follows

    def _canvas_selected(self, ids: list) -> None:
        if len(ids) != 1 or ids[0] == self.layer_id:
            return
        self.layer_id = ids[0]
        self._select_in_list(self.layer_id)
        if TABS[self.tabs.currentIndex()] == "maps":
            self._draw_maps()
        else:
            self._dirty.add("maps")

    def _design_changed(self, _report) -> None:
        if self.report is not None and self.worker is None:
            self._status_for(self.report)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if self._pending is not None and not self._render_timer.isActive():
            self._render_timer.start(0)

    # ----------------------------------------------------------------------------- export

    @property
    def current_tab(self) -> str:
        return TABS[self.tabs.currentIndex()]

    def show_tab(self, tab: str) -> None:
        self.tabs.setCurrentIndex(TABS.index(tab))

    def export_png(self, path: str | None = None, tab: str | None = None) -> bool:
        """Save a view (the one in front unless `tab` names one) as a PNG picture."""
        tab = tab or self.current_tab
        if path is None:
            name = {"maps": f"feature_maps_{self.layer_id or 'layer'}", "filters": "filters",
                    "confusion": "confusion_matrix", "wrong": "misclassified"}[tab]
            path, _ = QFileDialog.getSaveFileName(self, "Export PNG", f"{name}.png",
                                                  "PNG pictures (*.png)")
            if not path:
                return False
            if not path.lower().endswith(".png"):
                path += ".png"
        if tab != self.current_tab:
            self.show_tab(tab)
        self._draw_current()
        ok = self.pages[tab].grab().save(path, "PNG")
        if ok:
            self.status_message.emit(f"Exported {path}")
        else:
            self._say(f"Could not write {path}.", error=True)
        return ok


# ---------------------------------------------------------------------------------------------
# The background probe


def _probe_job(network: Network, config: TrainConfig, datasets, request: ProbeRequest,
               evaluate: bool, prober, cache: dict, weights=None):
    """(prober, report) in a background thread: the given prober, or a model of `network` on
    the training settings' data (loaded once per settings): with the trained `weights` of this
    version of the design, else fresh with the run's seed."""
    if prober is None:
        prober = _fresh_prober(network, config, datasets, cache, weights)
    evaluation = prober.evaluate() if evaluate and prober.val_size else None
    try:
        return prober, prober.probe(request, evaluation=evaluation)
    except ValueError as e:
        why = getattr(prober, "data_problem", "")
        if why and request.image is None:
            raise ValueError(f"the data set could not be read ({why}); choose an image file "
                             "to look at") from e
        raise


def _fresh_prober(network: Network, config: TrainConfig, datasets, cache: dict,
                  weights: tuple[str, str, str] | None = None):
    """A Prober of `network`: with `weights` ((run id, file, what to call them)) where given
    and readable, else the weights a run would start from (the label says which, and why)."""
    import torch

    from ....bridge.module import build_module
    from ....training.probes import Prober

    report = analyze(network)
    error = report.first_error()
    if error is not None:
        raise ValueError(f"the design has errors, so it cannot be built: {error}")
    data, info = _validation_data(report, config, datasets, cache)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)  # as the Trainer does: the weights a run starts from
        model = build_module(network, report)
    label = f"initial weights (seed {config.seed}), before training"
    if weights is not None:
        from ....training import runs

        _rid, path, called = weights
        try:
            model.load_state_dict(runs.read_weights(path)[0], strict=True)
            label = called
        except (runs.CheckpointError, RuntimeError) as e:
            label += f": the trained weights could not be read ({e})"
    prober = Prober(model, network, data, info, report, weights=label)
    prober.data_problem = info.note if isinstance(info, _NoData) else ""
    return prober


def _validation_data(report, config: TrainConfig, datasets, cache: dict):
    if datasets is not None:
        return datasets[1], (datasets[2] if len(datasets) > 2 else None)
    inputs = [nid for nid in report.order if report.layers[nid].type == "Input"]
    if not inputs:
        return None, None
    shape = tuple(report.layers[inputs[0]].shape)
    key = (repr(sorted(config.data.__dict__.items())), shape)
    if key not in cache:
        from ....training.datasets import load_datasets
        from ....training.events import DataConfig

        data = DataConfig(**{**config.data.__dict__, "download": False})  # training downloads
        try:
            _train, val, info = load_datasets(data, shape)
        except Exception as e:  # noqa: BLE001 - the maps of an image file still work
            return None, _NoData(str(e))  # not kept: the files may be there next time
        cache.clear()  # one data set at a time
        cache[key] = (val, info)
    return cache[key]


class _NoData:
    """Stands for a data set that could not be read (an image file can still be looked at)."""

    def __init__(self, why: str):
        self.note = why


def _prober_key(network: Network, config: TrainConfig, run_id: str | None = None) -> tuple:
    """What a prober between runs depends on: the design, the data settings, the seed and the
    run whose weights it holds (None: the initial weights)."""
    return (_network_key(network), repr(sorted(config.data.__dict__.items())), config.seed,
            run_id)


def _trained(doc) -> tuple[str, str, str] | None:
    """(run id, weights file, what the panel calls them) of the trained weights of the design
    on screen (the latest run of this version whose files are here), or None."""
    from ....training.imported import imported_from, is_imported
    from ....training.store import run_started

    found = doc.trained_weights()
    if found is None:
        return None
    record, path = found
    if is_imported(record):
        return str(record.get("id")), str(path), \
            f"trained weights imported from {imported_from(record)}"
    acc = record.get("best_val_accuracy")
    what = "its best epoch" if path.stem == "best" else "its last epoch"
    called = f"trained weights of the run of {run_started(record) or '?'} ({what}"
    if isinstance(acc, (int, float)) and path.stem == "best":
        called += f", validation accuracy {100 * acc:.1f}%"
    return str(record.get("id")), str(path), called + ")"


def _network_key(network: Network) -> tuple:
    """What a built model depends on: layers, parameters and wiring (not positions or names)."""
    return tuple((n.id, n.type, repr(sorted(n.params.items())), n.inputs)
                 for n in network.nodes.values())


def _error_text(e: Exception) -> str:
    text = str(e) or type(e).__name__
    if "validation set" in text or "data set" in text:
        return f"{text[0].upper()}{text[1:]}."
    return f"Could not look inside the network: {text}"
