"""A job's whole life: submit, queue, pipeline (API, download, fit), delivery, its message.

Kept free of imports so that :mod:`bot.jobs.errors` can be imported by the
API client and the image module without pulling in the service.
"""
