"""What every router of the API is built with, below the domains: dependencies, errors, paging, time format.

Each domain's routes import these; `app.api` (the composition: the routers listed by name, the middleware)
imports the domains. Kept apart from app.api so that imports only go one way.
"""
