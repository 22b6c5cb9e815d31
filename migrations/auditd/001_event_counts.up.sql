-- auditd's own schema: everything auditd writes lives here, so it can sit
-- beside an existing application's event store. The one object it attaches
-- to the store is the counting trigger below.

-- Cheap counts for the overview page, so that no request runs count(*) over
-- millions of rows. Appends only ever INSERT a delta row (one per event type
-- per statement): concurrent appenders never wait on a shared counter row.
-- auditd folds the deltas into event_counts in the background.
CREATE TABLE auditd.event_counts (
    stream_type text   NOT NULL,
    event_type  text   NOT NULL,
    events      bigint NOT NULL DEFAULT 0,
    streams     bigint NOT NULL DEFAULT 0, -- streams of this type opened by this event type (version 1)
    PRIMARY KEY (stream_type, event_type)
);

CREATE TABLE auditd.event_count_deltas (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_type text   NOT NULL,
    event_type  text   NOT NULL,
    events      bigint NOT NULL,
    streams     bigint NOT NULL
);

-- SECURITY DEFINER: applications that append events need no rights on the
-- auditd schema.
CREATE FUNCTION auditd.count_events() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, auditd AS $$
BEGIN
    INSERT INTO auditd.event_count_deltas (stream_type, event_type, events, streams)
    SELECT stream_type, event_type, count(*), count(*) FILTER (WHERE version = 1)
    FROM new_events GROUP BY 1, 2;
    RETURN NULL;
END;
$$;

CREATE TRIGGER auditd_count_events AFTER INSERT ON public.events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION auditd.count_events();

-- Rows already present when auditd is installed beside an existing store.
INSERT INTO auditd.event_counts (stream_type, event_type, events, streams)
SELECT stream_type, event_type, count(*), count(*) FILTER (WHERE version = 1)
FROM public.events GROUP BY 1, 2;
