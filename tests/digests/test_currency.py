"""Money metrics show the currency the workspace chose (or the DEFAULT_CURRENCY setting), never one
guessed from the language or the zone; preset metric names and units appear in the reader's language."""

import pydantic
import pytest

from settings import Settings
from tests.digests.conftest import define, make_digest, reply, seeded_metrics, weeks
from tests.digests.test_digest import all_text
from tests.digests.test_metrics import refusal
from tests.slack import ALICE, CHEN


def test_an_english_workspace_in_utc_guesses_no_currency_until_an_admin_sets_one(sender, slack, tandem, lead):
    previous, last = weeks()
    seeded_metrics(tandem.engine, slack.team_id, previous, last)
    make_digest(tandem.engine, slack.team_id)
    text = all_text(reply(sender, slack, "/digest", "preview weekly"))
    assert "*CAC* Customer acquisition cost: *45*  ▼ −5" in text and "¥" not in text
    assert reply(sender, slack, "/tandem", "currency")["text"].startswith("No currency is set, so money metrics show none.")

    assert reply(sender, slack, "/tandem", "currency CNY", user=ALICE)["text"] == refusal("not_admin")
    assert reply(sender, slack, "/tandem", "currency yen")["text"] == (
        "Tandem does not know the currency `yen`. Use an ISO 4217 code such as CNY, USD or EUR, "
        "or `none` for the DEFAULT_CURRENCY setting.")
    assert reply(sender, slack, "/tandem", "currency cny")["text"] == \
        "Money metrics in this workspace now show Chinese Yuan (CNY, shown as CN¥)."
    assert "*CAC* Customer acquisition cost: *CN¥45.00*  ▼ −5" in all_text(reply(sender, slack, "/digest", "preview weekly"))
    assert "*DAU* Daily active users: *130* users" in all_text(reply(sender, slack, "/digest", "preview weekly"))

    said = reply(sender, slack, "/tandem", "currency", user=CHEN)["text"]  # a Chinese reader, same workspace
    assert said == "本工作区的金额指标以人民币（CNY，显示为 ¥）显示。`/tandem currency none` 恢复为服务器的默认值。"
    assert reply(sender, slack, "/tandem", "language zh-CN")["text"].startswith("本工作区的 Tandem 现在使用简体中文。")
    text = all_text(reply(sender, slack, "/digest", "preview weekly"))
    assert "*CAC* 获客成本：*¥45.00*  ▼ −5" in text and "*DAU* 日活跃用户数：*130* 用户" in text
    assert "*NPS* 净推荐值：*35*" in text


def test_the_default_currency_setting_applies_where_the_workspace_chose_none(sender, slack, tandem, monkeypatch):
    monkeypatch.setattr(tandem.services.settings, "default_currency", "USD")
    define(tandem.engine, slack.team_id, ["GMV"])
    define(tandem.engine, slack.team_id, ["REVENUE", "Revenue in euros", "EUR"])  # the metric's own currency
    listed = reply(sender, slack, "/metric", "list")["blocks"][0]["text"]["text"]
    assert "*GMV* Gross merchandise value ($)" in listed and "*REVENUE* Revenue in euros (EUR)" in listed
    assert reply(sender, slack, "/tandem", "currency")["text"].startswith(
        "Money metrics show US Dollar (USD, shown as $), the server’s DEFAULT_CURRENCY.")
    reply(sender, slack, "/tandem", "currency EUR")
    assert "*GMV* Gross merchandise value (€)" in reply(sender, slack, "/metric", "list")["blocks"][0]["text"]["text"]
    assert reply(sender, slack, "/tandem", "currency none")["text"] == \
        "Money metrics in this workspace now follow the server’s DEFAULT_CURRENCY: US Dollar (USD, shown as $)."
    chinese = reply(sender, slack, "/metric", "list", user=CHEN)["blocks"][0]["text"]["text"]
    assert "*GMV* 商品交易总额 （US$）" in chinese and "*REVENUE* Revenue in euros （EUR）" in chinese


def test_preset_words_in_chinese_and_a_team_s_own_words_unchanged(sender, slack, tandem):
    define(tandem.engine, slack.team_id, ["DAU"])
    define(tandem.engine, slack.team_id, ["MAU", "Monthly actives (app only)", "accounts"])
    chinese = reply(sender, slack, "/metric", "list", user=CHEN)["blocks"][0]["text"]["text"]
    assert "*DAU* 日活跃用户数 （用户）" in chinese and "*MAU* Monthly actives (app only) （accounts）" in chinese
    said = reply(sender, slack, "/metric", "define RETENTION", user=CHEN)["text"]
    assert said.startswith("指标 RETENTION（留存率）已定义")
    english = reply(sender, slack, "/metric", "show dau")["blocks"][0]["text"]["text"]
    assert english.startswith("*DAU* Daily active users (users)")


@pytest.mark.parametrize(("given", "stored"), [("cny", "CNY"), (" usd ", "USD"), ("", "")])
def test_default_currency_setting_is_an_iso_code(given, stored):
    assert Settings(_env_file=None, default_currency=given).default_currency == stored


def test_a_default_currency_that_is_not_a_code_stops_the_start_with_a_clear_line():
    with pytest.raises(pydantic.ValidationError, match="DEFAULT_CURRENCY must be an ISO 4217 code such as CNY"):
        Settings(_env_file=None, default_currency="¥")
