"""The console (工作台): web pages for staff, residents and the county, over the five services' APIs."""
