-- The hosted device verification page (`/device`, RFC 8628 §3.3) signs a person in through a
-- hosted-login flow that ends on an "Allow device?" page instead of a redirect: such a flow
-- carries the user code it will approve or deny, and has no redirect URI (stored as '').
alter table authkit_flows add column device_user_code text;
