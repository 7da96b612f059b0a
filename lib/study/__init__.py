"""The probe study: the arms of a run (base, stage 1, stage 1 + 2, SFT only, retrieval) put to four claims.

`study` opens a run (reads its adapters from `outputs/<run>/`, the probes from `probe_dir`, the data through
`lib.data.processed`); `inextricability`, `steerability`, `replica` and `domination` measure one claim each
with the instruments beside them (stylometry, checkers, retrieval, stats); `report` and `questionnaire`
write `outputs/<run>/probe/`.
"""
