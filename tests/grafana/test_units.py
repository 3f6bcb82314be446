"""Panel units are checked against Grafana's unit ids."""

from __future__ import annotations

from grafana_foundation_sdk.models import units as sdk_units

from monitorgen.targets.grafana.units import KNOWN_UNITS, is_known_unit, suggest_unit

#: A misspelt id in the SDK's generated table; Grafana has `decbytes`, not this.
SDK_TYPOS = {"bydecbitstes"}


def test_every_unit_grafana_11_knows_is_known() -> None:
    grafana = {
        v for k, v in vars(sdk_units).items() if not k.startswith("_") and isinstance(v, str)
    }
    assert len(grafana) > 250
    assert grafana - SDK_TYPOS <= KNOWN_UNITS


def test_common_units_and_custom_units() -> None:
    for unit in ("s", "ms", "percentunit", "currencyUSD", "reqps", "short", "bytes", "none"):
        assert is_known_unit(unit)
    assert is_known_unit("suffix: tokens") and is_known_unit("currency:€")
    assert not is_known_unit("suffix:")
    for unit in ("seconds", "usd", "tokens", "percentage", "sec"):
        assert not is_known_unit(unit)


def test_suggestions_for_what_people_write_instead() -> None:
    assert suggest_unit("seconds") == "s"
    assert suggest_unit("USD") == "currencyUSD"
    assert suggest_unit("percentunits") == "percentunit"
    assert suggest_unit("qwertyuiop") is None
