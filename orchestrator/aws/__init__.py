"""The AWS boundary: the only boto3 importer (session, retries, typed errors), deploy targets, journal and sweep."""
