"""A job's second stage, inside a delivery slot: post the image with its embed and buttons."""

from __future__ import annotations

import io

import discord

from bot import messages
from bot.images import FetchedImage
from bot.jobs.buttons import result_view
from bot.jobs.message import Delivered, JobMessage


async def deliver(
    message: JobMessage, image: FetchedImage, *, model: str, seconds: float
) -> Delivered | None:
    """Turn the member's message into the result; None when it could not be posted."""
    job = message.job
    filename = f"imagine-{job.id}.{image.extension}"
    embed = messages.result_embed(
        job, filename=filename, seconds=seconds, model=model, width=image.width, height=image.height
    )
    upload = io.BytesIO(image.data)
    try:
        return await message.show_result(
            embed=embed, file=discord.File(upload, filename=filename), view=result_view(job)
        )
    finally:
        # discord.File never closes a buffer it did not open (it even swaps
        # its close() for a no-op), and the objects that still point at it
        # after an upload form reference cycles: without this, the upload's
        # private copy of the image lives until the next full garbage
        # collection (measured: peak memory 308 MiB instead of 113 MiB over
        # 200 images of 5 MB).
        io.BytesIO.close(upload)
