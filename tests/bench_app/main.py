"""A small FastAPI app with a pydantic model, for the throughput benchmark (tests/harness/perf.py).

GET / validates and serialises a model, as a typical JSON API does; GET /health answers for the role's check.
"""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Item(BaseModel):
    """A catalogue item."""

    id: int
    name: str
    price: float
    tags: list[str] = []


ITEM = {"id": 1, "name": "widget", "price": 9.99, "tags": ["blue", "small"]}


@app.get("/")
async def item() -> Item:
    return Item.model_validate(ITEM)


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
