from .navigation import SECTIONS


def navigation(request) -> dict:
    match = getattr(request, "resolver_match", None)
    return {"nav_sections": SECTIONS, "nav_active": match.url_name if match else ""}
