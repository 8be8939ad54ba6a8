"""Import of the Wyscout public data set into the football database.

`sources` reads either layout of the data (a folder or an archive), `rows`
turns source records into normalised table rows, `writers` loads event rows
the fastest way each database allows, and `services.wyscout_import` ties them
together in one transaction.
"""
