"""`nudge report`: what the messaging earned, read from the send log and the conversions table.

Everything is computed from two tables the system writes (docs/measurement.md):

- the **send log** (``messages``): one decision per send key with its level, channel, holdout group
  and the engagement SES and the inbox folded into it (``delivered_at``, ``opened_at``, ...);
- the **conversions** (``conversions``): one item per (goal event, campaign), written by ingest.

Uplift is intent-to-treat: the treated group is every shopper a campaign chose and did not hold
out (including those a cap or consent then stopped), the withheld group its holdout; both are
followed for the campaign's goal window. The interval for a difference of two proportions is
Newcombe's hybrid score interval (method 10), which stays honest at small counts; the revenue per
recipient difference uses a normal (Welch) interval.

The modules, in the order the report is built (``build.build_report`` composes them):

- ``reading``: which send-log items are decisions and which conversions count, from ``since`` on;
- ``tally``: sends, engagement and last-touch conversions per campaign, level, channel and day;
- ``uplift``: the treated and withheld groups of each campaign, what they bought, and the intervals;
- ``model``: the report's figures (``Report``, ``Row``, ``Verdict``) and their JSON form;
- ``verdict``: Striving, Steady or Stellar, and the changes to recommend;
- ``html``: the static HTML page.
"""
