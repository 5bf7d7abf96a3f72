"""Footprint tables: the numbered factor sets, and every calculation with its inputs and the set it used."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column
from sqlmodel import Field, SQLModel

from backend.dbtypes import UTCDateTime


class FactorSetRecord(SQLModel, table=True):
    """One version of the factor library: the data files' exact text, numbered in loading order. Never changed;
    a change to the files loads as the next number."""

    __tablename__ = "factor_set"

    number: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    sha256: str = Field(max_length=64, unique=True)
    files: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    summary: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    loaded_at: datetime = Field(sa_type=UTCDateTime)


class FootprintCalculation(SQLModel, table=True):
    """A calculation as it was answered. ``id`` is derived from (calculator, factor set, inputs), so asking the
    same question again finds the same row, and re-running it against its set must give ``result`` again."""

    __tablename__ = "footprint_calculation"

    id: str = Field(primary_key=True, max_length=26)
    calculator: str = Field(max_length=20)
    factor_set: int = Field(foreign_key="factor_set.number")
    inputs: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    result: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    total_g: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(sa_type=UTCDateTime)
