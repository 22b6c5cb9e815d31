-- auditd's own schema: everything auditd writes lives here, so it can sit
-- beside an existing application's event store. Nothing here touches the
-- event table: auditd's first releases attached a counting trigger to
-- public.events here; 011 removes it from the installs that have it.

-- Cheap counts for the overview page, so that no request runs count(*) over
-- millions of rows: auditd counts the events it reads (eventstore.FoldCounts,
-- progress in event_count_progress, 011) and folds them in here.
CREATE TABLE auditd.event_counts (
    stream_type text   NOT NULL,
    event_type  text   NOT NULL,
    events      bigint NOT NULL DEFAULT 0,
    streams     bigint NOT NULL DEFAULT 0, -- streams of this type opened by this event type (version 1)
    PRIMARY KEY (stream_type, event_type)
);
