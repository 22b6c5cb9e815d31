-- Projection lag history: auditd samples every projection's checkpoint every
-- few seconds (--lag-sample-interval) so the panels can show trends and a
-- throughput after a restart. Rows older than --lag-history-retention are
-- pruned by the sampler, so the table stays bounded.
CREATE TABLE auditd.lag_samples (
    projection    text             NOT NULL,
    sampled_at    timestamptz      NOT NULL,
    position      bigint           NOT NULL, -- the checkpoint as read
    head_position bigint           NOT NULL,
    lag_events    bigint           NOT NULL, -- positions behind the head
    lag_seconds   double precision NOT NULL,
    error_count   integer          NOT NULL DEFAULT 0,
    PRIMARY KEY (projection, sampled_at)
);

-- Pruning and the all-projections sparkline read by time.
CREATE INDEX lag_samples_sampled_at_idx ON auditd.lag_samples (sampled_at);
