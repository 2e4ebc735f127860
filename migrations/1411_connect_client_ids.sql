-- The token endpoint (`POST /oauth2/token`) knows only the client id of the application that
-- authenticates; Keystead's client ids (`client_…` ULIDs) are unique across environments, and
-- this index finds an application by its client id alone.
create unique index connect_applications_client_id_global on connect_applications (client_id);
