"""Write the bundled sample files (run from the repo root; output is deterministic).

- transactions.csv: a binary fraud label (about 3% positive) with mixed columns.
- support_tickets.parquet: a 4-class priority label (about 70/20/8/2) with an id,
  integer and float features, a string category, a boolean and a timestamp.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent


def transactions(rows: int = 6000) -> pl.DataFrame:
    rng = np.random.default_rng(2024)
    fraud = rng.random(rows) < 0.03
    amount = np.where(fraud, rng.lognormal(5.0, 1.0, rows), rng.lognormal(3.5, 0.9, rows))
    hour = np.where(fraud, rng.integers(0, 6, rows), rng.integers(6, 24, rows))
    age = np.where(fraud, rng.integers(1, 90, rows), rng.integers(30, 3000, rows))
    category = rng.choice(["grocery", "travel", "electronics", "fuel", "dining"], rows)
    online = np.where(fraud, rng.random(rows) < 0.8, rng.random(rows) < 0.3)
    return pl.DataFrame(
        {
            "transaction_id": np.arange(100_000, 100_000 + rows, dtype=np.int64),
            "amount": amount.round(2),
            "hour": hour.astype(np.int64),
            "account_age_days": age.astype(np.int64),
            "merchant_category": category,
            "is_online": online,
            "is_fraud": fraud.astype(np.int64),
        }
    )


def support_tickets(rows: int = 4000) -> pl.DataFrame:
    rng = np.random.default_rng(7)
    u = rng.random(rows)
    levels = np.array(["low", "medium", "high", "critical"])
    code = np.searchsorted(np.array([0.70, 0.90, 0.98]), u, side="right")
    start = datetime(2026, 1, 1)
    created = [start + timedelta(minutes=int(m)) for m in np.sort(rng.integers(0, 525_600, rows))]
    return pl.DataFrame(
        {
            "ticket_id": np.arange(1, rows + 1, dtype=np.int32),
            "created_at": pl.Series(created, dtype=pl.Datetime("us")),
            "channel": rng.choice(["email", "chat", "phone", "web"], rows),
            "reopened": rng.random(rows) < (0.05 + 0.1 * code),
            "messages": (rng.poisson(2 + 2 * code)).astype(np.int32),
            "response_minutes": (rng.gamma(2.0, 60.0 / (1 + code))).round(1),
            "sentiment": np.clip(rng.normal(0.2 - 0.25 * code, 0.3), -1, 1).round(3),
            "priority": levels[code],
        }
    )


def main() -> None:
    transactions().write_csv(HERE / "transactions.csv")
    support_tickets().write_parquet(HERE / "support_tickets.parquet")


if __name__ == "__main__":
    main()
