"""One run: data, cached teacher, selection, the student and its random reference."""

import shutil
import time
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..base import EmptyClassWarning, resolve_budget
from ..cache import ArtifactCache, content_hash
from ._config import RunConfig, is_int
from ._console import Console, _elapsed_bar, _torch_threads, json_list, pct
from ._data import load_data, validation_split
from ._report import _finish, _run_markdown, _run_plots, _run_table, _versions
from ._select import _fill_recall, _params, make_selector

_VERSION = 1  # bump when a change here changes what a cached selection or student holds


class _Run:
    """State shared by the stages of one run or sweep (data, cache, teacher)."""

    def __init__(self, config, console):
        self.config = config
        self.console = console
        self.cache = ArtifactCache(config.cache_dir)
        self.timings = {}
        self.hits = {}

    # ---------------------------------------------------------------- data
    def load(self):
        cfg = self.config
        started = time.perf_counter()
        train_all, test = load_data(cfg)
        pool_idx, val_idx = validation_split(train_all.labels, cfg.val_fraction, cfg.seed)
        self.train = train_all.subset(pool_idx)
        self.val = train_all.subset(val_idx) if val_idx.size else None
        self.test = test
        self.class_names = list(train_all.class_names)
        self.n_classes = train_all.n_classes
        self.sizes = self.train.class_counts()
        self.n_total = len(train_all)
        self.timings["data"] = time.perf_counter() - started
        nonzero = self.sizes[self.sizes > 0]
        self.console.stage(
            "data",
            f"{cfg.dataset}: {len(self.train)} training shapes"
            + (f" (+{len(self.val)} held out for validation)" if self.val is not None else "")
            + f", {len(test)} test; {self.n_classes} classes of {nonzero.max()}..{nonzero.min()}"
            f" shapes; {cfg.n_points} of {train_all.n_points} points",
            self.timings["data"],
        )
        self.n_select = self._check_budget(cfg.budget)

    def _check_budget(self, budget):
        n = len(self.train)
        if is_int(budget):
            if budget > n:
                held = (f" ({self.n_total} training shapes minus {self.n_total - n} held out "
                        f"for validation with --val-fraction {self.config.val_fraction:g})"
                        if self.val is not None else "")
                raise ValueError(
                    f"--budget {budget} asks for more shapes than the training set has: {n}"
                    f"{held}; pass --budget <= {n} or a fraction in (0, 1]."
                )
            return int(budget)
        return resolve_budget(budget, n)

    # ------------------------------------------------------------- teacher
    def teacher(self):
        from ..torch import TeacherConfig, evaluate, prepare_teacher

        cfg = self.config
        self.tcfg = TeacherConfig(
            model=cfg.model, width=cfg.width, embed_dim=cfg.embed_dim, n_points=cfg.n_points,
            epochs=cfg.teacher_epochs, batch_size=cfg.batch_size, lr=cfg.lr,
            warmup_epochs=min(2, cfg.teacher_epochs), mixed_precision=cfg.mixed_precision,
            seed=cfg.seed)
        started = time.perf_counter()
        art = prepare_teacher(self.train.points, self.train.labels, self.test.points,
                              self.test.labels, self.tcfg, cache=self.cache,
                              n_classes=self.n_classes, device=cfg.device,
                              progress=self.console.progress)
        self.art = art
        rep = art.report
        self.device = rep["device"]
        for stage in ("teacher", "calibrated", "outputs"):
            self.hits[stage] = bool(rep["cache_hits"][stage])
        # DRoP's recall: the (uncalibrated) teacher on the validation split.
        self.val_recall = None
        if self.val is not None:
            acc = evaluate(art.teacher, self.val.points[:, :cfg.n_points], self.val.labels,
                           device=art.report["device"])
            self.val_recall = acc["per_class"]
            self.val_acc = {"oa": float(acc["oa"]), "macc": float(acc["macc"])}
        self.timings["teacher"] = time.perf_counter() - started
        how = ("cached" if self.hits["teacher"]
               else f"trained {rep['epochs_done']} epochs")
        self.console.stage(
            "teacher",
            f"{cfg.model} x{cfg.width:g}, {how}; test OA {pct(rep['before']['oa'])} mAcc "
            f"{pct(rep['before']['macc'])} -> calibrated OA {pct(rep['after']['oa'])} mAcc "
            f"{pct(rep['after']['macc'])}",
            self.timings["teacher"],
        )

    def teacher_summary(self):
        rep = self.art.report
        out = {"before": rep["before"], "after": rep["after"], "epochs": rep["epochs_done"],
               "resumed_from": rep["resumed_from"], "train_sessions": rep["train_sessions"],
               "keys": rep["keys"], "cache_hits": rep["cache_hits"],
               "wall_s": rep["wall_s"], "config": rep["config"]}
        if self.val is not None:
            out["validation"] = {**self.val_acc,
                                 "recall": json_list(self.val_recall)}
        return out

    # ----------------------------------------------------------- selection
    def select(self, name, k, *, stage="select"):
        cfg = self.config
        selector, spec = make_selector(name, self.n_select, k, cfg.seed, cfg.target_prior)
        fit_params, arrays = {}, []
        if spec.score is not None:
            fit_params["scores"] = self.art.scores[spec.score]
            arrays.append(fit_params["scores"])
        if spec.recall:
            fit_params["recall"] = _fill_recall(self.val_recall, self.sizes)
            arrays.append(fit_params["recall"])
        key = content_hash(self.art.embeddings, self.train.labels, *arrays, stage="selection",
                           version=_VERSION, selector=name, k=float(k) if spec.uses_k else None,
                           n_select=self.n_select, seed=cfg.seed, params=_params(selector))
        hit = self.cache.exists("selection", key, "npz")
        started = time.perf_counter()

        def compute():
            with warnings.catch_warnings(), _elapsed_bar(f"{stage} {name}",
                                                        self.console.progress):
                warnings.simplefilter("ignore", EmptyClassWarning)
                selector.fit(self.art.embeddings, self.train.labels, **fit_params)
            seeds = getattr(selector, "seed_indices_", np.empty(0, dtype=np.intp))
            return {"indices": selector.sample_indices_, "weights": selector.weights_,
                    "seed_indices": np.asarray(seeds, dtype=np.intp)}

        sel = self.cache.get_or_compute("selection", key, compute)
        seconds = time.perf_counter() - started
        kept = np.bincount(self.train.labels[sel["indices"]], minlength=self.n_classes)
        info = {"selector": name, "k": float(k) if spec.uses_k else None,
                "n_selected": int(sel["indices"].shape[0]),
                "kept": kept.tolist(), "n_seeds": int(sel["seed_indices"].shape[0]),
                "score": spec.score, "key": key, "cached": bool(hit), "seconds": seconds}
        present = kept[self.sizes > 0]
        label = name + (f" (k={k:g})" if spec.uses_k else "")
        self.console.stage(
            stage,
            f"{label}: {info['n_selected']} of {len(self.train)} shapes "
            f"({100 * info['n_selected'] / len(self.train):.1f}%), per class "
            f"{present.max()}..{present.min()}" + (" [cached]" if hit else ""),
            seconds,
        )
        return sel, info

    # ------------------------------------------------------------- student
    def student(self, sel, *, stage, label):
        import torch

        from ..torch import Compose, RandomResample, default_augmentation, distill, evaluate

        cfg = self.config
        n = cfg.n_points
        indices, weights = sel["indices"], sel["weights"]
        fields_ = {"model": cfg.model, "width": cfg.width, "embed_dim": cfg.embed_dim,
                   "n_points": n, "epochs": cfg.epochs, "batch_size": cfg.batch_size,
                   "lr": cfg.lr, "warmup_epochs": min(5, cfg.epochs),
                   "mixed_precision": cfg.mixed_precision, "seed": cfg.seed,
                   "loss": "kd+rkd (distill defaults)"}
        key = content_hash(indices, weights, stage="student", version=_VERSION,
                           teacher=self.art.keys["calibrated"], config=fields_)
        started = time.perf_counter()
        hit = self.cache.exists("student", key, "json")
        if hit:
            report = self.cache.load_json("student", key)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(cfg.seed)
                student = self.tcfg.build_model(self.n_classes)
            sub = self.train.subset(indices)
            transforms = []
            if n < sub.n_points:
                transforms.append(RandomResample(n))
                points = sub.points
            else:
                points = np.ascontiguousarray(sub.points[:, :n])
            transforms.extend(default_augmentation().transforms)
            ckpt = self.cache.path("student-checkpoint", key)
            history = distill(
                student, self.art.calibrated, points, sub.labels, sample_weight=weights,
                epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                warmup_epochs=fields_["warmup_epochs"], augment=Compose(transforms),
                mixed_precision=cfg.mixed_precision, device=self.device, seed=cfg.seed,
                checkpoint_dir=ckpt, resume=True, progress=self.console.progress)
            acc = evaluate(student, self.test.points[:, :n], self.test.labels,
                           device=self.device)
            report = {"oa": float(acc["oa"]), "macc": float(acc["macc"]),
                      "per_class": json_list(acc["per_class"]), "epochs": cfg.epochs,
                      "resumed_from": int(history.resumed_from),
                      "final_loss": float(history.loss[-1]),
                      "train_s": time.perf_counter() - started}
            self.cache.save_torch("student-weights", key,
                                  {k: v.cpu() for k, v in student.state_dict().items()})
            self.cache.save_json("student", key, report)
            shutil.rmtree(ckpt, ignore_errors=True)
        seconds = time.perf_counter() - started
        how = "cached" if hit else (
            f"{cfg.epochs} epochs" + (f", resumed at epoch {report['resumed_from']}"
                                      if report["resumed_from"] else ""))
        self.console.stage(
            stage, f"{label} on {len(indices)} shapes, KD+RKD, {how}: test OA "
            f"{pct(report['oa'])} mAcc {pct(report['macc'])}", seconds)
        return {**report, "key": key, "cached": bool(hit), "seconds": seconds,
                "weights_path": str(self.cache.path("student-weights", key, "torch"))}

    # ------------------------------------------------------------- summary
    def data_summary(self):
        out = {"dataset": self.config.dataset, "class_names": self.class_names,
               "n_train": len(self.train), "n_validation": 0 if self.val is None else len(self.val),
               "n_test": len(self.test), "class_sizes": self.sizes.tolist(),
               "test_class_sizes": self.test.class_counts().tolist(),
               "n_points": self.config.n_points, "n_points_stored": self.train.n_points}
        if self.val is not None:
            out["validation_class_sizes"] = self.val.class_counts().tolist()
        return out


def run(config=None, *, console=None, command=None):
    """Run 3D-Pruner end to end and write the report.

    Parameters
    ----------
    config : RunConfig, default=None
        None runs the defaults: SGS (FL-RBF, k = 0.4) at 10 % of the
        built-in synthetic long-tailed set.
    console : Console, default=None
        Where stage lines and results go; None prints them (stdout) with
        progress bars.
    command : str, default=None
        The command line, recorded in the report.

    Returns
    -------
    results : dict
        What ``results.json`` holds: the resolved settings, versions, data
        summary, teacher accuracy before and after calibration, the
        selection (per-class kept counts), the student's OA, mAcc and
        per-class accuracy, the random reference, timings and cache hits.

    See Also
    --------
    sweep : the same for a list of SGS ``k``.
    coreset3d.torch.prepare_teacher : the cached teacher stage.

    Notes
    -----
    Stages: data, teacher (cached by content), selection (cached),
    student (checkpointed every epoch, cached when done), the random
    reference (the same), report. Cost is dominated by the teacher,
    ``teacher_epochs * n_train`` forward/backward passes, then the two
    students, ``epochs * B`` each (plus a teacher forward pass per step).
    """
    config = (config or RunConfig()).resolved()
    console = console or Console(config.quiet, config.json)
    with _torch_threads(config.threads) as threads:
        return _run(config, console, command, threads)


def _run(config, console, command, threads):
    started = time.perf_counter()
    state = _Run(config, console)
    state.load()
    state.teacher()
    sel, info = state.select(config.selector, config.k)
    student = state.student(sel, stage="student", label=info["selector"])
    reference = ref_info = None
    if config.reference:
        ref_sel, ref_info = state.select("random", 0.0, stage="reference")
        reference = state.student(ref_sel, stage="reference", label="random")
    state.timings.update({"select": info["seconds"], "student": student["seconds"]})
    hits = {**state.hits, "selection": info["cached"], "student": student["cached"]}
    if reference is not None:
        state.timings["reference"] = ref_info["seconds"] + reference["seconds"]
        hits.update({"reference_selection": ref_info["cached"],
                     "reference": reference["cached"]})
    results = {
        "kind": "run",
        "command": command,
        "config": asdict(config),
        "versions": _versions(),
        "device": state.device,
        "threads": threads,
        "data": state.data_summary(),
        "teacher": state.teacher_summary(),
        "selection": info,
        "student": student,
        "reference": None if reference is None else {"selection": ref_info, **reference},
        "cache_hits": hits,
        "cache_dir": str(state.cache.root),
    }
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    state.timings["total"] = time.perf_counter() - started
    results["timings"] = dict(state.timings)
    return _finish(out / "results.json", results, console, _run_plots, _run_markdown,
                   _run_table)
