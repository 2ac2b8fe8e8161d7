"""Spark sessions, errors as one line, and the small helpers every Spark pass uses."""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import polars as pl

from ...errors import DataError, InputOutputError, RebalanceError, UsageError

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

# pyspark 4 warns about pandas 3 on every Arrow job; this engine hands it Arrow, not pandas.
warnings.filterwarnings(
    "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
)

PID = "__rebalance_partition__"
CODE = "__rebalance_class__"
POS = "__rebalance_position__"
BAD = "__rebalance_bad__"
POOL = "pool"  # the sink of the rows a synthesiser grows (program.TEST: the test split)
SPARK_FORMATS = ("csv", "tsv", "parquet")
DEFAULT_SMOTE_DRIVER_ROWS = 2_000_000
SMOTE_DRIVER_ROWS_CONF = "spark.rebalance.smote.driverRows"
SYNTHETIC_BATCH = 65_536


# --------------------------------------------------------------------------- session


def _require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise UsageError(
            "the Spark engine needs pyspark, which is not installed",
            hint='pip install "rebalance-cli[spark]" (and a Java runtime)',
        ) from None


def get_session(master: str | None = None) -> tuple[SparkSession, bool]:
    """The active Spark session, or a new one; the flag says whether it was created here.

    Under spark-submit or in a notebook the active session is used as it is
    (``master`` is then ignored). A new local session runs its Python workers
    with this interpreter unless PYSPARK_PYTHON says otherwise.
    """
    _require_pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.appName("rebalance")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "65536")
    )
    if master:
        builder = builder.master(master)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:
        raise InputOutputError(
            f"cannot start Spark: {_first_line(exc)}",
            hint="check --spark-master, and that java is on the PATH (or JAVA_HOME is set)",
        ) from None
    spark.sparkContext.setLogLevel("ERROR")
    return spark, True


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0].strip()


@contextlib.contextmanager
def _spark_errors(display: str) -> Iterator[None]:
    """Spark's errors as one-line user errors; ours pass through."""
    try:
        yield
    except RebalanceError:
        raise
    except Exception as exc:
        from pyspark.errors import AnalysisException, PySparkException

        if not isinstance(exc, PySparkException | AnalysisException):
            py4j = sys.modules.get("py4j.protocol")
            if py4j is None or not isinstance(exc, py4j.Py4JJavaError):
                raise
        text = str(exc)
        for line in text.splitlines():  # a Python error raised on an executor
            for kind in (DataError, UsageError):
                marker = f"rebalance_cli.errors.{kind.__name__}: "
                if marker in line:
                    raise kind(line.split(marker, 1)[1]) from None
        if "PATH_NOT_FOUND" in text or "FileNotFoundException" in text:
            raise InputOutputError(f"cannot read {display}: {_first_line(exc)}") from None
        if "changed between" in text:
            raise DataError(
                f"{display} changed while it was read (its rows moved between Spark's passes)",
                hint="read a stable input, or pass order_by= a unique column",
            ) from None
        raise DataError(f"Spark failed on {display}: {_first_line(exc)}") from None


# --------------------------------------------------------------------------- frames


def _collect(df: DataFrame) -> pl.DataFrame:
    """A small Spark DataFrame on the driver as a polars frame (through Arrow)."""
    if hasattr(df, "toArrow"):
        return pl.from_arrow(df.toArrow())  # type: ignore[return-value]
    return pl.from_pandas(df.toPandas())  # pyspark 3.5


def _arrow_schema(df: DataFrame) -> pa.Schema:
    from pyspark.sql.pandas.types import to_arrow_schema

    tz = df.sparkSession.conf.get("spark.sql.session.timeZone")
    return to_arrow_schema(df.schema, timezone=tz)


def polars_schema(df: DataFrame) -> pl.Schema:
    """The polars schema of a Spark DataFrame's rows as they reach Python through Arrow."""
    return pl.from_arrow(_arrow_schema(df).empty_table()).schema  # type: ignore[union-attr]


def _from_arrow(spark: SparkSession, table: pa.Table, df: DataFrame) -> DataFrame:
    """A driver-side Arrow table as a Spark DataFrame with ``df``'s schema."""
    table = table.cast(_arrow_schema(df))
    try:
        return spark.createDataFrame(table, schema=df.schema)
    except TypeError:  # pyspark 3.5 takes pandas, not Arrow
        return spark.createDataFrame(table.to_pandas(), schema=df.schema)


def _with_fields(df: DataFrame, *extra: tuple[str, Any]) -> Any:
    """``df``'s schema plus non-null columns (a new StructType: ``add`` mutates in place)."""
    from pyspark.sql.types import StructField, StructType

    fields = list(df.schema.fields) + [StructField(n, t, nullable=False) for n, t in extra]
    return StructType(fields)


def _map(df: DataFrame, body: Any, schema: Any) -> DataFrame:
    """``mapInArrow`` over ``df`` with each row's partition id in a last column.

    The id is ``spark_partition_id()`` of ``df``'s own partitions, the one pass 1
    grouped by; the task's partition id would not be, once the result is in a union.
    """
    from pyspark.sql import functions as F

    return df.withColumn(PID, F.spark_partition_id()).mapInArrow(body, schema)


def _stamped(batches: Iterator[pa.RecordBatch]) -> Iterator[tuple[int, pa.RecordBatch]]:
    """The batches of one partition without the partition-id column, with the id."""
    for batch in batches:
        if batch.num_rows:
            yield int(batch.column(PID)[0].as_py()), batch.drop_columns([PID])


def _changed(pid: int) -> RuntimeError:
    return RuntimeError(f"partition {pid}: the input changed between Spark's two passes")


def spark_available() -> bool:
    """True when pyspark is importable (Java is found when a session starts)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return True
