"""The statistical triage model: char 1-3-gram and word TF-IDF, hazard features, one logistic regression per label.

Trained by `python -m services.triage train` into var/triage-model.pkl; the combination with the rules is in
`services.triage.grader`.
"""

from __future__ import annotations

import hashlib
import pickle
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sklearn
from scipy import sparse
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from services.triage import domain, hazards, segment
from services.triage.domain import Grade

HEADS = ("level", "route", "kind", "category")
FORMAT = 4
RED_RECALL_TARGET = 0.975  # inner-CV red recall the threshold aims at (on seven writers it lands there: docs)
DEFAULT_RED_THRESHOLD = 0.1  # when the rows have a single writer and no threshold can be cross-validated
_REASON_HEAD = re.compile(r"^([^：（“]{2,8})[：（]")
# Channel furniture carries no label; dropping it keeps the model on what residents wrote.
_BOILERPLATE = (
    "工单编号", "市民来电反映", "市民诉求", "请尽快核实处理", "要求相关部门处理", "请属地社区及时办理并回复市民",
    "来电人称其居住在", "走访记录", "已登记，待跟进", "已拍照上报", "问题描述", "诉求内容", "所在位置",
    "报事位置", "是否需要回访", "【位置】", "【图片】",
)  # fmt: skip


_SIGNAL_REASONS = ("情绪词", "等级：绿（“", "等级：黄（“")
_DIGITS = re.compile(r"\d+")
_CJK_GRAM = re.compile(r"[\u4e00-\u9fff]{2,6}")  # evidence shown to staff: Chinese words, no punctuation


def clean(text: str) -> str:
    """The model's view of a text: normalised like the rules, channel boilerplate removed."""
    norm = domain.normalise(text)
    for phrase in _BOILERPLATE:
        norm = norm.replace(phrase, " ")
    return _DIGITS.sub("#", norm)  # building numbers, dates and order numbers carry no label


def rule_features(g: Grade) -> dict[str, float]:
    """The rules' decision and the kinds of signal they saw, as one-hot features for the model."""
    feats = {f"level={g.level}": 1.0, f"category={g.category}": 1.0, f"kind={g.kind}": 1.0, f"route={g.route}": 1.0}
    for reason in g.reasons:
        head = _REASON_HEAD.match(reason)
        if head:
            feats[f"reason={head.group(1)}"] = 1.0
        if reason.startswith(_SIGNAL_REASONS):  # emotional words, one household vs many
            feats[f"signal={reason[:6]}"] = 1.0
    if g.needs_review:
        feats["needs_review"] = 1.0
    return feats


def rules_grade(row: dict) -> Grade:
    """The rules' grade of a labelled row (channel and stated households taken into account)."""
    return domain.grade(
        row["text"], channel=row.get("channel", "miniprogram"), households=int(row.get("households_affected") or 1)
    )


@dataclass
class Prediction:
    """Per-head class probabilities and the n-grams that pushed the level decision."""

    probs: dict[str, dict[str, float]]
    level_ngrams: tuple[str, ...]
    text_red: float = 0.0  # P(red) from the text-only head: the rules cannot talk it down
    text_probs: dict[str, dict[str, float]] | None = None  # the text-only heads (set when `probs` are hybrid)
    red_threshold: float | None = None  # the model's own P(red) threshold, chosen by grouped CV on its training rows

    def best_text(self, head: str) -> tuple[str, float]:
        """The most probable label of a text-only head (the hybrid one when text-only is not available)."""
        probs = (self.text_probs or self.probs)[head]
        label, p = max(probs.items(), key=lambda kv: kv[1])
        return label, p

    def best(self, head: str) -> tuple[str, float]:
        """The most probable label of a head and its probability."""
        label, p = max(self.probs[head].items(), key=lambda kv: kv[1])
        return label, p


def _evidence(w: _Weights, idx: np.ndarray, contrib: np.ndarray, top: int) -> tuple[str, ...]:
    """The words (or, without words, the char n-grams) that pushed the level most: whole single words only."""
    order = np.argsort(-contrib, kind="stable")
    kept: list[str] = []
    for k in order:
        if contrib[k] <= 0:
            break
        j = int(idx[k])
        is_word = w.n_char <= j < w.n_char + w.n_word
        if w.n_word and not is_word:
            continue
        if is_word and " " in str(w.word_names[j - w.n_char]):
            continue  # a word bigram reads as a fragment once joined ("楼 电梯" -> "楼电梯", "了 里面" -> "了里面")
        g = w.name(j)
        if g is None or not _CJK_GRAM.fullmatch(g) or any(g in x or x in g for x in kept):
            continue
        kept.append(g)
        if len(kept) == top:
            break
    return tuple(kept)


def hazard_features(text: str) -> dict[str, float]:
    """The hazard taxonomy's reading of a text (hazard × status, exposure) as model features."""
    return hazards.features(hazards.reading(hazards.prepare(text)))


class _Weights:
    """Every head's coefficients side by side: grading one text is one gather and one product.

    scikit-learn's transform and predict_proba validate their input on every call, which cost about 2.5 ms of
    the 2.8 ms a grade took; the arithmetic is the same (tests compare both on the corpus).
    """

    def __init__(self, model: TriageModel):
        n_char = len(model.vectorizer.vocabulary_)
        n_word = len(model.word_vectorizer.vocabulary_) if model.word_vectorizer is not None else 0
        n_hazard = len(model.hazard_vectorizer.vocabulary_)
        n_text, n_rules = n_char + n_word + n_hazard, len(model.rules_vectorizer.vocabulary_)
        self.blocks = [(model.vectorizer.build_analyzer(), model.vectorizer.vocabulary_, model.vectorizer.idf_, 0)]
        if model.word_vectorizer is not None:
            wv = model.word_vectorizer
            self.blocks.append((wv.build_analyzer(), wv.vocabulary_, wv.idf_, n_char))
        self.hazard_index, self.hazard_offset = model.hazard_vectorizer.vocabulary_, n_char + n_word
        self.hazard_weight = model.hazard_weight
        self.rule_index = model.rules_vectorizer.vocabulary_
        self.char_names = model.vectorizer.get_feature_names_out()
        self.word_names = model.word_vectorizer.get_feature_names_out() if n_word else np.array([])
        self.n_char, self.n_word = n_char, n_word
        parts = [(f"text:{h}", clf, False) for h, clf in model.text_heads.items()]
        parts += [(f"hybrid:{h}", clf, True) for h, clf in model.hybrid_heads.items()]
        if model.red_head is not None:
            parts.append(("red", model.red_head, False))
        text, rules, intercept, self.columns, at = [], [], [], {}, 0
        for key, clf, hybrid in parts:
            coef = clf.coef_
            text.append(coef[:, :n_text].T)
            rules.append(coef[:, n_text:].T if hybrid else np.zeros((n_rules, coef.shape[0])))
            intercept.append(clf.intercept_)
            self.columns[key] = (at, at + coef.shape[0])
            at += coef.shape[0]
        self.text = np.ascontiguousarray(np.hstack(text))
        self.rules = np.ascontiguousarray(np.hstack(rules))
        self.intercept = np.concatenate(intercept)

    def text_vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The text block of `text`: char and word TF-IDF (sublinear tf, idf, l2 norm each) and hazard features."""
        cleaned = clean(text)
        idx_parts, value_parts = [], []
        for analyze, vocabulary, idf, offset in self.blocks:
            counts: dict[int, int] = {}
            for gram in analyze(cleaned):
                j = vocabulary.get(gram)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            idx = np.array(sorted(counts), dtype=np.intp)
            values = (np.log(np.array([counts[j] for j in idx], dtype=np.float64)) + 1.0) * idf[idx]
            norm = np.sqrt(values @ values)
            idx_parts.append(idx + offset)
            value_parts.append(values / norm if norm > 0 else values)
        feats = [(j, v) for name, v in hazard_features(text).items() if (j := self.hazard_index.get(name)) is not None]
        feats.sort()
        idx_parts.append(np.array([self.hazard_offset + j for j, _ in feats], dtype=np.intp))
        value_parts.append(np.array([v * self.hazard_weight for _, v in feats], dtype=np.float64))
        return np.concatenate(idx_parts), np.concatenate(value_parts)

    def rule_columns(self, rules: Grade) -> list[int]:
        """The rules block's columns set (to 1) by a rules grade."""
        return [j for name in rule_features(rules) if (j := self.rule_index.get(name)) is not None]

    def name(self, j: int) -> str | None:
        """The char n-gram or word (bigrams joined) of a text column; None for a hazard feature."""
        if j < self.n_char:
            return str(self.char_names[j])
        if j < self.n_char + self.n_word:
            return str(self.word_names[j - self.n_char]).replace(" ", "")
        return None

    def proba(self, scores: np.ndarray, key: str) -> np.ndarray:
        """One head's class probabilities from its scores, like predict_proba."""
        start, stop = self.columns[key]
        s = scores[start:stop]
        if s.size == 1:  # binary head: logistic on the positive class
            p = 1.0 / (1.0 + np.exp(-s[0]))
            return np.array([1.0 - p, p])
        e = np.exp(s - s.max())
        return e / e.sum()


class TriageModel:
    """Char n-gram and word TF-IDF plus hazard features, and per head a text-only and a text+rules classifier."""

    def __init__(self, c: float = 4.0, rule_weight: float = 1.0, ngram_max: int = 3, red_c: float | None = 3.0,
                 red_blend: bool = False, words: bool = True, hazard_weight: float = 0.1,
                 recall_target: float | None = RED_RECALL_TARGET, red_loss: str = "svm",
                 category_c: float = 16.0, category_writer_weights: bool = True):  # fmt: skip
        # The text-only category head (the grader's category): weaker regularisation and every training writer
        # weighing the same lift category macro-F1 on unseen writers (leave-one-writer-out, docs/triage.md v4).
        self.category_c, self.category_writer_weights = category_c, category_writer_weights
        self.c, self.rule_weight, self.red_c, self.red_blend = c, rule_weight, red_c, red_blend
        self.red_loss = red_loss  # "svm": a linear SVM (max margin) ranks reds better on unseen writers than "logistic"
        self.hazard_weight, self.ngram_max, self.words = hazard_weight, ngram_max, words
        self.recall_target = recall_target
        self.red_threshold: float | None = None  # set by fit (grouped CV over the training rows' writers)
        self.red_selection: dict = {}
        self.vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, ngram_max), sublinear_tf=True, min_df=1)
        self.word_vectorizer = TfidfVectorizer(analyzer=segment.word_grams, sublinear_tf=True) if words else None
        self.hazard_vectorizer = DictVectorizer()
        self.red_head: LogisticRegression | None = None  # red vs rest on the text alone (red_c set)
        self.rules_vectorizer = DictVectorizer()
        self.text_heads: dict[str, LogisticRegression] = {}
        self.hybrid_heads: dict[str, LogisticRegression] = {}
        self.trained_on: dict = {}

    def text_matrix(self, texts: list[str], fit: bool = False):
        """The text block (char TF-IDF | word TF-IDF | hazard features) of many texts, through scikit-learn."""
        cleaned = [clean(t) for t in texts]
        hz = [hazard_features(t) for t in texts]
        if fit:
            blocks = [self.vectorizer.fit_transform(cleaned)]
            if self.word_vectorizer is not None:
                blocks.append(self.word_vectorizer.fit_transform(cleaned))
            blocks.append(self.hazard_vectorizer.fit_transform(hz) * self.hazard_weight)
        else:
            blocks = [self.vectorizer.transform(cleaned)]
            if self.word_vectorizer is not None:
                blocks.append(self.word_vectorizer.transform(cleaned))
            blocks.append(self.hazard_vectorizer.transform(hz) * self.hazard_weight)
        return sparse.hstack(blocks).tocsr()

    def _hybrid(self, x_text, grades: list[Grade]):
        x_rules = self.rules_vectorizer.transform([rule_features(g) for g in grades]) * self.rule_weight
        return sparse.hstack([x_text, x_rules]).tocsr()

    def fit(self, rows: list[dict]) -> TriageModel:
        """Train every head on rows carrying text and all four labels."""
        self.__dict__.pop("_stacked", None)  # weights stacked from an earlier fit would be stale
        x_text = self.text_matrix([r["text"] for r in rows], fit=True)
        grades = [rules_grade(r) for r in rows]
        self.rules_vectorizer.fit([rule_features(g) for g in grades])
        x_hybrid = self._hybrid(x_text, grades)
        for head in HEADS:
            y = [r[head] for r in rows]
            for heads, x in ((self.text_heads, x_text), (self.hybrid_heads, x_hybrid)):
                heads[head] = LogisticRegression(C=self.c, class_weight="balanced", max_iter=3000).fit(x, y)
        self.text_heads["category"] = self.category_head(x_text, rows)
        # The text-only route head decides only below red (red always deliberates): it learns from non-red rows,
        # where "deliberate" means unclear responsibility or shared cost, not danger.
        calm = [i for i, r in enumerate(rows) if r["level"] != "red"]
        if len({rows[i]["route"] for i in calm}) == 2:
            self.text_heads["route"] = LogisticRegression(C=self.c, class_weight="balanced", max_iter=3000).fit(
                x_text[calm], [rows[i]["route"] for i in calm]
            )
        if self.red_c is not None:
            self.red_head = self._red_fit(x_text, rows)
            if self.recall_target is not None:
                self.red_threshold, self.red_selection = self._choose_threshold(rows)
        digest = hashlib.sha256("".join(sorted(r["text"] for r in rows)).encode()).hexdigest()[:16]
        self.trained_on = {"rows": len(rows), "sha256": digest, "sklearn": sklearn.__version__}
        return self

    def category_head(self, x_text, rows: list[dict]) -> LogisticRegression:
        """The text-only category head (the one the grader reads for category), classes balanced.

        With `category_writer_weights` each writer's rows together weigh the same (a writer who wrote more
        rows does not set the category conventions); rows without a writer form one group.
        """
        y = [r["category"] for r in rows]
        weights = writer_weights(rows) if getattr(self, "category_writer_weights", False) else None
        clf = LogisticRegression(C=getattr(self, "category_c", self.c), class_weight="balanced", max_iter=3000)
        return clf.fit(x_text, y, sample_weight=weights)

    def _red_fit(self, x_text, rows: list[dict]) -> LogisticRegression:
        """The red-vs-rest head; with `red_loss` "svm" a linear SVM whose scores pass through a logistic (Platt)."""
        y_red = ["red" if r["level"] == "red" else "not_red" for r in rows]
        if getattr(self, "red_loss", "logistic") != "svm":
            return LogisticRegression(C=self.red_c, class_weight="balanced", max_iter=3000).fit(x_text, y_red)
        svm = LinearSVC(C=self.red_c, class_weight="balanced", max_iter=20000).fit(x_text, y_red)
        head = LogisticRegression()  # carries the SVM's weights: the grader reads coef_, intercept_ and classes_
        head.classes_, head.coef_, head.intercept_ = svm.classes_, svm.coef_.copy(), svm.intercept_.copy()
        head.n_features_in_ = svm.n_features_in_
        # Without held-out scores (one writer) the SVM's margin is mapped by a fixed slope: -1 → 0.12, +1 → 0.88.
        _platt(head, 2.0, 0.0)
        return head

    def _choose_threshold(self, rows: list[dict]) -> tuple[float, dict]:
        """The P(red) threshold for `recall_target`, from leave-one-writer-out over these rows only (nested CV).

        Each inner fold fits the vectorisers and the red head on the other writers and scores the held-out one;
        the pooled scores set the threshold. Rows of a single writer cannot be cross-validated this way: the
        default threshold is kept and the selection says so.
        """
        groups = [str(r.get("writer") or r.get("source", "").split(":")[0] or "unknown") for r in rows]
        names = sorted(set(groups))
        if len(names) < 2 or self.red_blend:
            return DEFAULT_RED_THRESHOLD, {"method": "default", "groups": names}
        scores = np.zeros(len(rows))
        for g in names:
            test = [i for i, x in enumerate(groups) if x == g]
            train_rows = [r for r, x in zip(rows, groups, strict=True) if x != g]
            if not any(r["level"] == "red" for r in train_rows):
                continue
            inner = TriageModel(ngram_max=self.ngram_max, words=self.words, hazard_weight=self.hazard_weight,
                                red_c=self.red_c, recall_target=None, red_loss=self.red_loss)  # fmt: skip
            x_train = inner.text_matrix([r["text"] for r in train_rows], fit=True)
            head = inner._red_fit(x_train, train_rows)
            x_test = inner.text_matrix([rows[i]["text"] for i in test])
            scores[test] = head.decision_function(x_test) * (1 if list(head.classes_).index("red") == 1 else -1)
        is_red = np.array([r["level"] == "red" for r in rows])
        t = threshold_for_recall(scores, is_red, self.recall_target)  # on the heads' raw scores (logits)
        flagged = scores >= t
        selection = {"method": "leave-one-writer-out over the training rows", "groups": names,
                     "recall_target": self.recall_target, "inner_recall": round(float(flagged[is_red].mean()), 4),
                     "inner_false_red": int((flagged & ~is_red).sum()), "red_loss": self.red_loss}  # fmt: skip
        if self.red_loss == "svm":  # Platt scaling on the inner held-out scores: P(red) is a probability again
            platt = LogisticRegression(C=1e4).fit(scores.reshape(-1, 1), is_red)
            a, b = float(platt.coef_[0, 0]), float(platt.intercept_[0])
            _platt(self.red_head, a, b)  # the same scores as the inner heads' (fit-time slope included)
            selection["platt"] = [round(a, 4), round(b, 4)]
            return float(1.0 / (1.0 + np.exp(-(a * t + b)))), selection
        return float(1.0 / (1.0 + np.exp(-t))), selection

    def predict(self, text: str, rules: Grade | None = None, top: int = 3) -> Prediction:
        """Probabilities per head (text+rules when `rules` is given, else text only) and the level's evidence words."""
        w = self._weights()
        idx, values = w.text_vector(text)
        scores = values @ w.text[idx] + w.intercept
        if rules is not None:
            for j in w.rule_columns(rules):
                scores += self.rule_weight * w.rules[j]
        kind = "hybrid" if rules is not None else "text"
        heads = self.hybrid_heads if rules is not None else self.text_heads
        probs = {head: dict(zip(clf.classes_, map(float, w.proba(scores, f"{kind}:{head}")), strict=True))
                 for head, clf in heads.items()}  # fmt: skip
        label = max(probs["level"].items(), key=lambda kv: kv[1])[0]
        level_clf = heads["level"]
        row = list(level_clf.classes_).index(label)
        contrib = values * level_clf.coef_[row][idx]
        text_probs = None
        if rules is not None:  # the text-only heads' scores are in the same product: no extra cost
            text_probs = {head: dict(zip(clf.classes_, map(float, w.proba(scores, f"text:{head}")), strict=True))
                          for head, clf in self.text_heads.items()}  # fmt: skip
        red = self._text_red(w, scores)
        return Prediction(probs, _evidence(w, idx, contrib, top), red, text_probs, self.__dict__.get("red_threshold"))

    def _text_red(self, w: _Weights, scores: np.ndarray) -> float:
        """P(red) from the text alone: the level head, the red-vs-rest head, or their mean (red_blend)."""
        classes = list(self.text_heads["level"].classes_)
        p_level = float(w.proba(scores, "text:level")[classes.index("red")]) if "red" in classes else 0.0
        if self.red_head is None:
            return p_level
        p_binary = float(w.proba(scores, "red")[list(self.red_head.classes_).index("red")])
        return 0.5 * (p_level + p_binary) if self.red_blend else p_binary

    def _weights(self) -> _Weights:
        cached = self.__dict__.get("_stacked")
        if cached is None:
            cached = self.__dict__["_stacked"] = _Weights(self)
        return cached

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_stacked"}

    def save(self, path: Path) -> None:
        """Pickle the model with its format version."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps({"format": FORMAT, "model": self}))
        tmp.replace(path)


def writer_weights(rows: list[dict]) -> np.ndarray:
    """Per-row weights making every writer's rows weigh the same in total (mean weight 1)."""
    groups = [str(r.get("writer") or "unknown") for r in rows]
    counts = {g: groups.count(g) for g in set(groups)}
    return np.array([len(rows) / (len(counts) * counts[g]) for g in groups], dtype=np.float64)


def _platt(head: LogisticRegression, slope: float, shift: float) -> None:
    """Scale a binary head's score in place: P(red) = logistic(slope × score + shift)."""
    head.coef_ = head.coef_ * slope
    head.intercept_ = head.intercept_ * slope + shift


def load(path: Path) -> TriageModel | None:
    """The model in `path`, or None when it is missing or of another format/scikit-learn version."""
    if not path.exists():
        return None
    blob = pickle.loads(path.read_bytes())  # our own artefact under var/, never user input
    model = blob.get("model") if isinstance(blob, dict) and blob.get("format") == FORMAT else None
    if not isinstance(model, TriageModel) or model.trained_on.get("sklearn") != sklearn.__version__:
        return None
    return model


def threshold_for_recall(scores: np.ndarray, is_red: np.ndarray, target: float) -> float:
    """The highest threshold whose share of red rows scored at or above it is at least `target`."""
    reds = np.sort(np.asarray(scores, dtype=float)[np.asarray(is_red, dtype=bool)])
    if reds.size == 0:
        return DEFAULT_RED_THRESHOLD
    k = int(np.floor((1.0 - target) * reds.size + 1e-9))  # at most k reds may fall below the threshold
    return float(reds[min(k, reds.size - 1)])


def train(rows: Iterable[dict], **params) -> TriageModel:
    """A fitted model (TriageModel's parameters, defaults chosen by cross-validation); unlabelled rows skipped."""
    usable = [r for r in rows if r.get("text") and all(r.get(h) for h in HEADS)]
    return TriageModel(**params).fit(usable)
