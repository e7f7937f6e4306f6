"""The partner dashboard: Django templates behind the session login. Every page is
scoped to the logged-in user's partner and to the mode (live or test) the user is
viewing, as Stripe's dashboard is."""
