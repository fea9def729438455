"""The tables Chainlit's data layers keep their history in, made as a Chainlit app makes
them, for the tests of ``SQLAlchemyDataLayer``, ``DATABASE_URL`` and ``import-chainlit``.

``SQLALCHEMY_DDL`` is the schema Chainlit documents for its ``SQLAlchemyDataLayer`` (the
same text serves SQLite, which takes any type name, and PostgreSQL).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from lightchat.store import database_url

SQLALCHEMY_DDL = [
    """CREATE TABLE users (
        "id" UUID PRIMARY KEY,
        "identifier" TEXT NOT NULL UNIQUE,
        "metadata" JSONB NOT NULL,
        "createdAt" TEXT
    )""",
    """CREATE TABLE threads (
        "id" UUID PRIMARY KEY,
        "createdAt" TEXT,
        "name" TEXT,
        "userId" UUID,
        "userIdentifier" TEXT,
        "tags" TEXT[],
        "metadata" JSONB NOT NULL DEFAULT '{}',
        FOREIGN KEY ("userId") REFERENCES users("id") ON DELETE CASCADE
    )""",
    """CREATE TABLE steps (
        "id" UUID PRIMARY KEY,
        "name" TEXT NOT NULL,
        "type" TEXT NOT NULL,
        "threadId" UUID NOT NULL,
        "parentId" UUID,
        "streaming" BOOLEAN NOT NULL,
        "waitForAnswer" BOOLEAN,
        "isError" BOOLEAN,
        "metadata" JSONB,
        "tags" TEXT[],
        "input" TEXT,
        "output" TEXT,
        "createdAt" TEXT,
        "command" TEXT,
        "start" TEXT,
        "end" TEXT,
        "generation" JSONB,
        "showInput" TEXT,
        "language" TEXT,
        "indent" INT,
        "defaultOpen" BOOLEAN,
        FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE
    )""",
    """CREATE TABLE elements (
        "id" UUID PRIMARY KEY,
        "threadId" UUID,
        "type" TEXT,
        "url" TEXT,
        "chainlitKey" TEXT,
        "name" TEXT NOT NULL,
        "display" TEXT,
        "objectKey" TEXT,
        "size" TEXT,
        "page" INT,
        "language" TEXT,
        "forId" UUID,
        "mime" TEXT,
        "props" JSONB,
        FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE
    )""",
    """CREATE TABLE feedbacks (
        "id" UUID PRIMARY KEY,
        "forId" UUID NOT NULL,
        "threadId" UUID NOT NULL,
        "value" INT NOT NULL,
        "comment" TEXT,
        FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE
    )""",
]


def create_tables(url: str, statements: list[str]) -> None:
    """Run ``statements`` on the database at ``url`` (from sync or async code alike)."""

    async def run() -> None:
        engine = create_async_engine(database_url(url))
        try:
            async with engine.begin() as conn:
                for statement in statements:
                    await conn.execute(text(statement))
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(1) as pool:  # a loop of its own: callers may be in one
        pool.submit(asyncio.run, run()).result()


#: The tables of Chainlit's official data layer (``DATABASE_URL``), as its Prisma schema
#: makes them on PostgreSQL.
OFFICIAL_DDL = [
    """CREATE TYPE "StepType" AS ENUM ('assistant_message', 'embedding', 'llm', 'retrieval',
        'rerank', 'run', 'system_message', 'tool', 'undefined', 'user_message')""",
    """CREATE TABLE "User" (
        "id" TEXT NOT NULL DEFAULT gen_random_uuid(),
        "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        "metadata" JSONB NOT NULL,
        "identifier" TEXT NOT NULL,
        CONSTRAINT "User_pkey" PRIMARY KEY ("id")
    )""",
    'CREATE UNIQUE INDEX "User_identifier_key" ON "User"("identifier")',
    """CREATE TABLE "Thread" (
        "id" TEXT NOT NULL DEFAULT gen_random_uuid(),
        "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        "deletedAt" TIMESTAMP(3),
        "name" TEXT,
        "metadata" JSONB NOT NULL,
        "tags" TEXT[] DEFAULT ARRAY[]::TEXT[],
        "userId" TEXT,
        CONSTRAINT "Thread_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "Thread_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id")
    )""",
    """CREATE TABLE "Step" (
        "id" TEXT NOT NULL DEFAULT gen_random_uuid(),
        "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        "parentId" TEXT,
        "threadId" TEXT,
        "input" TEXT,
        "metadata" JSONB NOT NULL,
        "name" TEXT,
        "output" TEXT,
        "type" "StepType" NOT NULL,
        "showInput" TEXT DEFAULT 'json',
        "isError" BOOLEAN DEFAULT false,
        "startTime" TIMESTAMP(3) NOT NULL,
        "endTime" TIMESTAMP(3) NOT NULL,
        "rootRunId" TEXT,
        CONSTRAINT "Step_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "Step_parentId_fkey" FOREIGN KEY ("parentId") REFERENCES "Step"("id")
            ON DELETE CASCADE,
        CONSTRAINT "Step_threadId_fkey" FOREIGN KEY ("threadId") REFERENCES "Thread"("id")
            ON DELETE CASCADE
    )""",
    """CREATE TABLE "Element" (
        "id" TEXT NOT NULL DEFAULT gen_random_uuid(),
        "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        "threadId" TEXT,
        "stepId" TEXT NOT NULL,
        "metadata" JSONB NOT NULL,
        "mime" TEXT,
        "name" TEXT NOT NULL,
        "objectKey" TEXT,
        "url" TEXT,
        "chainlitKey" TEXT,
        "display" TEXT,
        "size" TEXT,
        "language" TEXT,
        "page" INTEGER,
        "props" JSONB,
        CONSTRAINT "Element_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "Element_stepId_fkey" FOREIGN KEY ("stepId") REFERENCES "Step"("id")
            ON DELETE CASCADE,
        CONSTRAINT "Element_threadId_fkey" FOREIGN KEY ("threadId") REFERENCES "Thread"("id")
            ON DELETE CASCADE
    )""",
    """CREATE TABLE "Feedback" (
        "id" TEXT NOT NULL DEFAULT gen_random_uuid(),
        "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        "stepId" TEXT,
        "name" TEXT NOT NULL,
        "value" DOUBLE PRECISION NOT NULL,
        "valueLabel" TEXT,
        "comment" TEXT,
        "scorer" TEXT,
        CONSTRAINT "Feedback_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "Feedback_stepId_fkey" FOREIGN KEY ("stepId") REFERENCES "Step"("id")
            ON DELETE SET NULL
    )""",
]

# -- a history as Chainlit's layers write it: ada's trip to Rome (rated, with a file) ----------

ADA = "0b7e2c1a-4f6d-4e8a-9c3b-2d1f0e9a8b7c"
ROME = "5a1f3e2d-7c6b-4a98-b0e1-d2c3f4a5b6c7"
QUESTION = "8c2d4e6f-1a3b-4c5d-8e7f-9a0b1c2d3e4f"
ANSWER = "9d3e5f70-2b4c-4d6e-9f80-a1b2c3d4e5f6"
RATING = "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b"
FILE = "f7e6d5c4-b3a2-4190-8f7e-6d5c4b3a2f1e"

OFFICIAL_SAMPLE = [
    f"""INSERT INTO "User" (id, identifier, metadata, "createdAt", "updatedAt") VALUES
        ('{ADA}', 'ada', '{{"role": "admin"}}', '2025-03-01 09:00:00', '2025-03-01 09:00:00')""",
    f"""INSERT INTO "Thread" (id, name, metadata, "userId", "createdAt", "updatedAt", tags)
        VALUES ('{ROME}', 'Trip to Rome', '{{"chat_profile": "Planner"}}', '{ADA}',
        '2025-03-01 10:00:00', '2025-03-01 10:00:05', ARRAY['travel'])""",
    f"""INSERT INTO "Step" (id, "threadId", name, type, input, output, metadata, "startTime",
        "endTime", "createdAt", "showInput") VALUES
        ('{QUESTION}', '{ROME}', 'ada', 'user_message', '', 'Plan a trip to Rome', '{{}}',
         '2025-03-01 10:00:00', '2025-03-01 10:00:00', '2025-03-01 10:00:00', 'json'),
        ('{ANSWER}', '{ROME}', 'Planner', 'assistant_message', '', 'Day 1: the Colosseum',
         '{{}}', '2025-03-01 10:00:01', '2025-03-01 10:00:05', '2025-03-01 10:00:01', 'json')""",
    f"""INSERT INTO "Feedback" (id, "stepId", name, value, comment) VALUES
        ('{RATING}', '{ANSWER}', 'user_feedback', 1, 'great plan')""",
    f"""INSERT INTO "Element" (id, "threadId", "stepId", metadata, mime, name, url, display,
        props) VALUES ('{FILE}', '{ROME}', '{ANSWER}', '{{"type": "file"}}', 'text/plain',
        'itinerary.txt', 'https://files.example.com/itinerary.txt', 'inline', '{{}}')""",
]

SQLALCHEMY_SAMPLE = [
    f"""INSERT INTO users (id, identifier, metadata, "createdAt") VALUES
        ('{ADA}', 'ada', '{{"role": "admin"}}', '2025-03-01T09:00:00.000Z')""",
    f"""INSERT INTO threads (id, "createdAt", name, "userId", "userIdentifier", metadata)
        VALUES ('{ROME}', '2025-03-01T10:00:00.000Z', 'Trip to Rome', '{ADA}', 'ada',
        '{{"chat_profile": "Planner"}}')""",
    f"""INSERT INTO steps (id, name, type, "threadId", streaming, "isError", metadata, input,
        output, "createdAt", start, "end", "showInput") VALUES
        ('{QUESTION}', 'ada', 'user_message', '{ROME}', false, false, '{{}}', '',
         'Plan a trip to Rome', '2025-03-01T10:00:00.000Z', '2025-03-01T10:00:00.000Z',
         '2025-03-01T10:00:00.000Z', 'false'),
        ('{ANSWER}', 'Planner', 'assistant_message', '{ROME}', false, false, '{{}}', '',
         'Day 1: the Colosseum', '2025-03-01T10:00:01.000Z', '2025-03-01T10:00:01.000Z',
         '2025-03-01T10:00:05.000Z', 'false')""",
    f"""INSERT INTO feedbacks (id, "forId", "threadId", value, comment) VALUES
        ('{RATING}', '{ANSWER}', '{ROME}', 1, 'great plan')""",
    f"""INSERT INTO elements (id, "threadId", type, url, name, display, "forId", mime, props)
        VALUES ('{FILE}', '{ROME}', 'file', 'https://files.example.com/itinerary.txt',
        'itinerary.txt', 'inline', '{ANSWER}', 'text/plain', '{{}}')""",
]
