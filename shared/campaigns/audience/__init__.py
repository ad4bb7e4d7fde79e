"""The audience language: who a campaign selects, as rules over a shopper's profile
(docs/campaigns.md). ``vocabulary`` says what rules may name, ``parser`` reads them, ``rules``
checks and evaluates them, ``selection`` is a campaign's rules together."""
