"""Many cameras in one service (issue 20): the site folder
(:mod:`occusense.fleet.site`), the service running each camera as a full
sensor (:mod:`occusense.fleet.service`) and the site's web GUI
(:mod:`occusense.fleet.web`)."""
