-- Claims walk a run's queued (or lease-expired) jobs in id order: with the id in the index the
-- oldest claimable job is found without sorting every queued job, so a claim costs the same
-- at job 10,000 as at job 1.
DROP INDEX jobs_claimable;
CREATE INDEX jobs_claim_order ON jobs (run_id, status, id);
