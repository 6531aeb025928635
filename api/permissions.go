package api

import "slices"

// Groups of roles the permissions below are made of.
var (
	admins = []Role{RoleSystemManager, RoleAdmin}
	// clinical staff see every patient.
	clinical = []Role{RoleSystemManager, RoleAdmin, RoleDoctor, RoleNurse}
	orderers = []Role{RoleSystemManager, RoleAdmin, RoleDoctor}
	workers  = []Role{RoleSystemManager, RoleAdmin, RoleRIS, RoleLIS}
	// aiRunners run models and upload results, or claim queued jobs.
	aiRunners  = []Role{RoleSystemManager, RoleAdmin, RoleDoctor, RoleRIS, RoleLIS}
	aiReaders  = []Role{RoleSystemManager, RoleAdmin, RoleDoctor, RoleNurse, RoleRIS, RoleLIS, RoleExternal}
	jobClients = []Role{RoleSystemManager, RoleAdmin, RoleDoctor, RoleNurse, RoleRIS, RoleLIS}
	// imageReaders read studies through the proxy (EXTERNAL and PATIENT only their own patients' studies).
	imageReaders = []Role{RoleSystemManager, RoleAdmin, RoleDoctor, RoleNurse, RoleRIS, RoleExternal, RolePatient}
	// imageSearchers search the whole archive.
	imageSearchers = []Role{RoleSystemManager, RoleAdmin, RoleDoctor, RoleNurse, RoleRIS}
	imageWriters   = []Role{RoleSystemManager, RoleAdmin, RoleDoctor, RoleRIS}
	patientReaders = []Role{RoleSystemManager, RoleAdmin, RoleDoctor, RoleNurse, RoleExternal, RolePatient}
)

// Permissions says, for each action of the API (the Action of its routes, which also names the call in the
// audit log), the roles that may take it. The server builds its route table's roles from this one table, and
// the workstation offers an action only to the roles it names; the server stays the authority (ownership
// rules — own patients, own orders — come on top, in the handlers).
var Permissions = map[string][]Role{
	"auth.logout": Roles, "auth.me": Roles, "auth.change_password": Roles,

	"user.list": admins, "user.create": admins, "user.update": admins, "user.unlock": admins, "user.reset_password": admins,

	"patient.list": patientReaders, "patient.read": patientReaders, "patient.create": clinical, "patient.update": clinical,
	"patient.studies": imageReaders,

	"order.list": Roles, "order.read": Roles, "order.create": orderers, "order.update": orderers,
	"order.accept": workers, "order.start": workers, "order.save_result": workers, "order.submit_result": workers,
	"order.confirm": aiRunners, "order.cancel": aiRunners,

	"ai_result.upload": aiRunners, "ai_result.list": aiReaders, "ai_result.read": aiReaders, "ai_result.review": orderers,
	"ai_result.withdraw": admins,

	"changes.read": Roles, "audit.forward": Roles, "audit.query": admins, "notifications.connect": Roles,

	"job.submit": jobClients, "job.read": jobClients, "job.claim": aiRunners, "job.renew": aiRunners, "job.complete": aiRunners,
	"job.fail": aiRunners, "job.dead": admins,

	"orthanc.read": imageReaders, "orthanc.manifest": imageReaders, "orthanc.search": imageSearchers,
	"orthanc.upload": imageWriters, "orthanc.transcode": imageReaders,
}

// May reports whether role r may take action (an entry of Permissions).
func May(r Role, action string) bool { return slices.Contains(Permissions[action], r) }
