"""The sandbox's pages for people: the auctions with their buttons, one auction's own page
(/item/<id>, what Rheo's test mode links to as the ad), and the token login (Tradera's
tokenlogin.aspx) where a seller consents to Rheo."""

from datetime import UTC, datetime
from html import escape

_STYLE = """
body { font: 15px/1.4 system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #ddd; }
form { display: inline; } input[type=number] { width: 6rem; }
.muted { color: #777; }
.pre { white-space: pre-wrap; } .images img { max-width: 320px; margin: 0 .5rem .5rem 0; }
"""


def _document(title: str, body: str) -> bytes:
    return (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{escape(title)}</title>"
        f"<style>{_STYLE}</style><body>{body}</body></html>"
    ).encode()


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "—"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def auctions(sandbox) -> bytes:
    market = sandbox.market
    rows = []
    for a in market.auctions():
        item_id = a["itemId"]
        rows.append(
            f"<tr><td><a href=/item/{item_id}>{item_id}</a></td><td>{escape(a['title'])}"
            f"<div class=muted>{escape(', '.join(a['ownReferences']))}</div></td>"
            f"<td>{a['startPrice']} / {a['reservePrice'] or '—'} / {a['buyNowPrice'] or '—'}</td>"
            f"<td>{a['bids']} (max {a['maxBid'] or '—'})</td><td>{_when(a['endsAt'])}</td>"
            f"<td>{_outcome(a)}</td><td>{_actions(a, back='/')}</td></tr>"
        )
    speed = market.rules.speed
    body = (
        "<h1>Tradera sandbox</h1>"
        f"<p class=muted>Now {_when(market.now())}. One auction day lasts "
        f"{86_400 / speed:.0f} s (speed {speed:g}). Prices: start / reserve / buy now.</p>"
        "<table><tr><th>Item</th><th>Title</th><th>Prices</th><th>Bids</th><th>Ends</th>"
        "<th>State</th><th></th></tr>"
        + ("".join(rows) or "<tr><td colspan=7 class=muted>No auctions yet.</td></tr>")
        + "</table>"
    )
    return _document("Tradera sandbox", body)


def _outcome(a: dict) -> str:
    return f"sold to {escape(a['buyer'])}" if a["sold"] else a["state"]


def _actions(a: dict, back: str) -> str:
    """A running auction's buttons; each comes back to `back`."""
    if a["state"] != "active":
        return ""
    item_id = a["itemId"]
    hidden = f"<input type=hidden name=back value={back}>"
    next_bid = (a["maxBid"] or a["startPrice"]) + 10
    actions = (
        f"<form method=post action=/page/auctions/{item_id}/bid>{hidden}"
        f"<input type=number name=amount min=1 value={next_bid}>"
        "<button>Bid</button></form> "
    )
    if a["buyNowPrice"] and not a["bids"]:
        actions += (
            f"<form method=post action=/page/auctions/{item_id}/buy-now>{hidden}"
            f"<button>Buy now ({a['buyNowPrice']} kr)</button></form> "
        )
    return actions + (
        f"<form method=post action=/page/auctions/{item_id}/end>{hidden}<button>End</button></form>"
    )


def auction(sandbox, item_id: int) -> bytes | None:
    """One auction's public page, as tradera.com/item/<id> is the real one's; None when
    the sandbox has no such auction (or it has not gone live yet)."""
    market = sandbox.market
    market.settle()
    row = market.item(item_id)
    if row is None:
        return None
    a = market.describe(row)
    images = "".join(
        f"<img src=/item/{item_id}/images/{n} alt='Image {n}'>" for n in range(1, a["images"] + 1)
    )
    if a["state"] == "active":
        state = "running"
    else:
        state = f"ended, sold to {escape(a['buyer'])}" if a["sold"] else "ended unsold"
    body = (
        "<p class=muted><a href=/>Tradera sandbox</a> · nothing here is real</p>"
        f"<h1>{escape(a['title'])}</h1>"
        f"<div class=images>{images or '<p class=muted>No images.</p>'}</div>"
        "<table>"
        f"<tr><th>Auction</th><td>{item_id} ({state})</td></tr>"
        f"<tr><th>Ends</th><td>{_when(a['endsAt'])}</td></tr>"
        f"<tr><th>Starting price</th><td>{a['startPrice']} kr</td></tr>"
        f"<tr><th>Buy now</th><td>{_kronor(a['buyNowPrice'])}</td></tr>"
        f"<tr><th>Bids</th><td>{a['bids']} (highest {_kronor(a['maxBid'])})</td></tr>"
        f"<tr><th>Category</th><td>{a['categoryId']}</td></tr>"
        "</table>"
        f"<p>{_actions(a, back=f'/item/{item_id}')}</p>"
        f"<h2>Description</h2><p class=pre>{escape(a['description'])}</p>"
    )
    return _document(f"{a['title']} · Tradera sandbox", body)


def _kronor(amount: int | None) -> str:
    return f"{amount} kr" if amount else "—"


def token_login(sandbox, query: dict) -> bytes:
    config = sandbox.config
    app_ok = query.get("appId") == str(config.app_id) and query.get("pkey") == config.public_key
    skey = query.get("skey", "")
    if not app_ok:
        return _document(
            "Tradera sandbox", "<h1>Unknown application</h1><p>appId or pkey is wrong.</p>"
        )
    if not 32 <= len(skey) <= 255:
        return _document(
            "Tradera sandbox", "<h1>Bad request</h1><p>skey must be 32–255 characters.</p>"
        )
    redirect = query.get("redirect", "")
    body = (
        "<h1>Tradera sandbox: log in</h1>"
        "<p>Rheo asks to list items and read orders on your behalf.</p>"
        "<form method=post action=/tokenlogin.aspx>"
        f"<input type=hidden name=skey value='{escape(skey, quote=True)}'>"
        f"<input type=hidden name=redirect value='{escape(redirect, quote=True)}'>"
        "<label>Seller name <input name=name value='Sandbox seller' required></label> "
        "<button>Accept</button></form>"
    )
    return _document("Tradera sandbox: log in", body)
