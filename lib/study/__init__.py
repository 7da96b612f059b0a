"""The probe study: the arms of a run (base, stage 1, stage 1 + 2, SFT only, the control author's stages,
retrieval) put to four claims.

`study` opens a run (its adapters from `outputs/<run>/`, the probes from `probe_dir`, the data through
`lib.data.processed`, the generic corpus); `inextricability`, `steerability`, `replica` and `domination`
measure one claim each with the instruments beside them (authorship, checkers, stance, authority, retrieval,
digidan; with a control author, the two-author `verifier` and claim 3's `voice`), every one proven on the
oracle arms of `oracle` (texts of known origin from `oracle_sources`); `measures` and `stats` turn values into
paired contrasts with intervals; `report` and `questionnaire` write `outputs/<run>/probe/`. `answers` makes every
answer the claims ask for in one pass and keeps each on disk as it ends (`outputs/<run>/probe/answers/`).
"""
