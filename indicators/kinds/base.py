"""What differs between kinds of indicator: the base every kind module implements.

A kind decides the patients' expected events (:meth:`Kind.cohort`), the statistic of an
organisation or quarter and its interval, the value shown, the family and centre of its funnel
(``indicators.stats.analysis.funnel_analysis``), the range its XmR limits stay within, how its
units' statistics shrink (:meth:`Kind.shrink`, the reliability-adjusted estimate beside the crude
one), what disclosure control publishes of its expected events, and what the pages say of it (its
words and columns, as plain data). ``indicators.compute``, ``indicators.disclosure`` and the
dashboards ask the kind; they do not branch on it.

Only the standard library is imported at import time (the start-up check of definitions reads
the kinds); numpy and the statistics are imported by the methods that compute.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from indicators.definitions import IndicatorDefinition
    from indicators.stats.analysis import Kind as Family


@dataclass(frozen=True)
class Cohort:
    """The patients an indicator counts once its kind has had its say, one entry per row of the
    frame: ``expected`` (each patient's expected events, 0 outside the denominator) and
    ``variance`` (each one's Var(O)) are 0 for a kind whose expected events come from its
    denominator. ``card`` is the risk model's card (``fitted`` false says why there is none)."""

    numerator: np.ndarray
    denominator: np.ndarray
    expected: np.ndarray | float = 0.0
    variance: np.ndarray | float = 0.0
    card: dict[str, Any] | None = None

    @property
    def unfitted(self) -> bool:
        """A model was needed and could not be fitted: no results, only the card that says why."""
        return self.card is not None and not self.card["fitted"]


def shrunken_fields(shrunk: Any) -> dict[str, np.ndarray]:
    """The result fields (``indicators.result_fields.SHRUNKEN``) of a shrinkage of ``indicators.stats.shrinkage``."""
    return {
        "shrunken_value": shrunk.estimate,
        "shrunken_lower": shrunk.lower,
        "shrunken_upper": shrunk.upper,
        "reliability": shrunk.reliability,
    }


class Kind(ABC):
    """One kind of indicator; its module (``indicators/kinds/<name>.py``) defines ``KIND``."""

    name: ClassVar[str]  # as the definition's ``kind:`` and the API's ``kind`` say it
    risk_adjusted: ClassVar[bool]  # takes a ``risk_model``, and refuses an entry without one
    funnel: ClassVar[Family]  # the family of funnel limits (indicators.stats.analysis)
    limits_within: ClassVar[tuple[float, float | None]]  # what the value can take: XmR limits stay inside

    # What the pages (dashboards) say of it: words and columns, no statistics.
    shown_field: ClassVar[str]  # the stored result field its pages show as the value (indicators.result_fields)
    has_expected: ClassVar[bool]  # its results show expected events, observed / expected and a VLAD chart
    adjective: ClassVar[str]  # what qualifies its value in a sentence or a tag ("risk-adjusted"), or ""
    value_title: ClassVar[str]  # the value's column header and axis title
    statistic_title: ClassVar[str]  # the funnel tool's axis title for the statistic itself
    statistic_percent: ClassVar[bool]  # the statistic itself reads as a percentage (else as a ratio)
    x_title: ClassVar[str]  # its funnel plot's x axis
    count_titles: ClassVar[tuple[str, str]]  # column headers of what is counted and what it is set against
    #: The columns of its results table: (CSV name, header on the page or "" for the CSV only, result field).
    result_columns: ClassVar[tuple[tuple[str, str, str], ...]]
    limits_words: ClassVar[str]  # its funnel limits in words; ``{method}`` is the definition's funnel method
    #: Its reliability-adjusted (shrunken) statistic in a sentence, the empirical Bayes model behind it and what it
    #: is pulled towards (see :meth:`shrink`); "" for a kind whose units are not shrunk.
    shrunken_name: ClassVar[str] = ""
    shrinkage_model: ClassVar[str] = ""
    shrunken_towards: ClassVar[str] = ""
    excess_words: ClassVar[str]  # how a trust's observed minus expected events and their interval are worked out

    def cohort(
        self,
        indicator: IndicatorDefinition,
        frame: pd.DataFrame,
        numerator: np.ndarray,
        denominator: np.ndarray,
        *,
        years: np.ndarray,
        groups: np.ndarray,
    ) -> Cohort:
        """The patients counted, given each row's audit year and organisation: by default the
        definition's numerator and denominator, with no expected events of their own."""
        return Cohort(numerator, denominator)

    @abstractmethod
    def expected(self, denominator: Any, summed: Any, rate: float) -> Any:
        """The expected events of each organisation (or quarter) from its ``denominator``, the
        ``summed`` expected events of its patients (:class:`Cohort`) and the national ``rate``."""

    @abstractmethod
    def expected_variance(self, summed: Any) -> Any:
        """Var(O) of each organisation from the ``summed`` variances of its patients, or NaN."""

    @abstractmethod
    def counts(self, denominator: Any, expected: Any) -> Any:
        """What the observed events are divided by: the statistic is ``numerator / counts``."""

    @abstractmethod
    def interval(self, observed: Any, counts: Any, confidence: float) -> tuple[np.ndarray, np.ndarray]:
        """The statistic's confidence interval at ``confidence`` (e.g. 0.95, 0.998)."""

    @abstractmethod
    def adjusted_rate(self, value: Any, rate: Any) -> Any:
        """The value shown on a percentage scale, from the statistic and the national ``rate``."""

    @abstractmethod
    def target(self, rate: float) -> float:
        """The centre of the funnel, given the national rate."""

    @abstractmethod
    def funnel_patients(self, patients: Any, variance: Any) -> tuple[Any, Any]:
        """The ``patients`` and ``variance`` keywords of ``funnel_analysis`` and ``unit_figures``
        (each organisation's patients and Var(O)), or None where the family takes none."""

    @abstractmethod
    def public_expected(self, expected: Any) -> Any:
        """The expected events disclosure control may publish beside rounded counts, or None."""

    def shrink(self, numerator: Any, counts: Any) -> dict[str, np.ndarray] | None:
        """Each unit's reliability-adjusted (shrunken) statistic among the units given (one level and period), from
        its ``numerator`` and its ``counts`` (what the statistic divides it by: :meth:`counts`), the prior estimated
        from those units alone: the arrays of ``indicators.result_fields.SHRUNKEN`` (estimate and its 95% interval
        on the statistic's scale, and the reliability of the crude figure), NaN for a unit with a NaN numerator.
        None (the default) for a kind whose units are not shrunk."""
        return None

    @abstractmethod
    def rounded_value(self, value: float | None, numerator: int, rounded: tuple[Any, Any]) -> float | None:
        """A quarter's value from its ``rounded`` counts (numerator, denominator), given its exact
        ``value`` and ``numerator``; None for a gap (no patients)."""
