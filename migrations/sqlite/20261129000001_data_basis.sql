-- The periods and sources of the figures a published text quotes (JSON of facts::DataBasis),
-- which the export prints under the text. Versions approved before this are '' and export
-- their page's latest period alone, as before.
ALTER TABLE versions ADD COLUMN data_basis TEXT NOT NULL DEFAULT '';
