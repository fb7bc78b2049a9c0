// Hospitality, food, tourism, personal services and cleaning. Written for jobbert; one title per line: en | de | es | zh
export default `
chef | Koch | cocinero | 厨师
head chef | Küchenchef | jefe de cocina | 主厨
sous chef | Sous-Chef | segundo de cocina | 副主厨
pastry chef | Konditor | pastelero | 糕点师
commis chef | Jungkoch | ayudante de cocina | 厨房帮工
kitchen assistant | Küchenhilfe | auxiliar de cocina | 厨房助理
dishwasher | Spüler | friegaplatos | 洗碗工
baker | Bäcker | panadero | 面包师
butcher | Fleischer | carnicero | 屠夫
fishmonger | Fischhändler | pescadero | 鱼贩
waiter | Kellner | camarero | 服务员
restaurant waiter | Restaurantfachmann | camarero de restaurante | 餐厅服务员
head waiter | Oberkellner | jefe de sala | 领班
bartender | Barkeeper | barman | 调酒师
barista | Barista | barista | 咖啡师
sommelier | Sommelier | sumiller | 侍酒师
restaurant manager | Restaurantleiter | gerente de restaurante | 餐厅经理
catering manager | Catering-Manager | responsable de catering | 餐饮经理
fast food worker | Mitarbeiter in der Systemgastronomie | empleado de comida rápida | 快餐店员工
hotel manager | Hoteldirektor | director de hotel | 酒店经理
hotel receptionist | Hotelrezeptionist | recepcionista de hotel | 酒店前台
front office manager | Empfangschef | jefe de recepción | 前厅经理
concierge | Concierge | conserje de hotel | 礼宾员
housekeeper | Hauswirtschafter | gobernanta | 客房管家
room attendant | Zimmermädchen | camarera de pisos | 客房服务员
cleaner | Reinigungskraft | limpiador | 清洁工
office cleaner | Büroreiniger | limpiador de oficinas | 办公室保洁员
building cleaner | Gebäudereiniger | limpiador de edificios | 楼宇保洁员
janitor | Hausmeister | conserje | 门卫兼勤杂工
laundry worker | Wäschereiarbeiter | trabajador de lavandería | 洗衣工
hairdresser | Friseur | peluquero | 理发师
barber | Herrenfriseur | barbero | 男士理发师
beautician | Kosmetiker | esteticista | 美容师
nail technician | Nageldesigner | manicurista | 美甲师
makeup artist | Maskenbildner | maquillador | 化妆师
personal trainer | Personal Trainer | entrenador personal | 私人教练
fitness instructor | Fitnesstrainer | monitor de fitness | 健身教练
yoga instructor | Yogalehrer | profesor de yoga | 瑜伽教练
swimming instructor | Schwimmlehrer | monitor de natación | 游泳教练
lifeguard | Rettungsschwimmer | socorrista | 救生员
sports coach | Sporttrainer | entrenador deportivo | 体育教练
professional athlete | Profisportler | deportista profesional | 职业运动员
nanny | Kindermädchen | niñera | 保姆
babysitter | Babysitter | canguro | 临时保姆
housekeeper in a private home | Haushälterin | empleada del hogar | 家政服务员
gardener | Gärtner | jardinero | 园丁
landscape gardener | Garten- und Landschaftsbauer | jardinero paisajista | 园林绿化工
dog groomer | Hundefriseur | peluquero canino | 宠物美容师
pet sitter | Tiersitter | cuidador de mascotas | 宠物看护员
animal keeper | Tierpfleger | cuidador de animales | 动物饲养员
funeral director | Bestatter | director de funeraria | 殡葬师
tattoo artist | Tätowierer | tatuador | 纹身师
flight attendant | Flugbegleiter | auxiliar de vuelo | 空乘人员
cabin crew manager | Purser | sobrecargo | 乘务长
cruise ship steward | Steward auf einem Kreuzfahrtschiff | camarero de crucero | 邮轮服务员
casino dealer | Croupier | crupier | 赌场荷官
cinema projectionist | Filmvorführer | proyeccionista de cine | 电影放映员
ticket seller | Kartenverkäufer | taquillero | 售票员
usher | Platzanweiser | acomodador | 引座员
wedding planner | Hochzeitsplaner | organizador de bodas | 婚礼策划师
line cook | Postenkoch | cocinero de línea | 线厨
pizza maker | Pizzabäcker | pizzero | 披萨师傅
sushi chef | Sushikoch | cocinero de sushi | 寿司师傅
private chef | Privatkoch | chef privado | 私人厨师
chocolatier | Chocolatier | chocolatero | 巧克力师
food runner | Servicehelfer | ayudante de camarero | 传菜员
room service attendant | Etagenkellner | camarero de servicio de habitaciones | 客房送餐服务员
banquet manager | Bankettleiter | jefe de banquetes | 宴会经理
night auditor | Night Auditor | auditor nocturno | 夜审员
reservations agent | Reservierungsmitarbeiter | agente de reservas | 预订员
bellhop | Hotelpage | botones | 行李员
doorman | Portier | portero | 门童
guest relations manager | Guest-Relations-Manager | responsable de relaciones con huéspedes | 宾客关系经理
executive housekeeper | Hausdame | gobernanta ejecutiva | 行政管家
spa manager | Spa-Manager | responsable de spa | 水疗中心经理
spa therapist | Wellnesstherapeut | terapeuta de spa | 水疗理疗师
window cleaner | Fensterputzer | limpiacristales | 窗户清洁工
industrial cleaner | Industriereiniger | limpiador industrial | 工业清洁工
cleaning supervisor | Objektleiter Reinigung | supervisor de limpieza | 保洁主管
domestic cleaner | Haushaltshilfe | limpiador doméstico | 家政保洁员
pest control technician | Schädlingsbekämpfer | técnico de control de plagas | 害虫防治员
dry cleaner | Textilreiniger | tintorero | 干洗工
street cleaner | Straßenreiniger | barrendero | 道路清扫工
football coach | Fußballtrainer | entrenador de fútbol | 足球教练
tennis coach | Tennistrainer | entrenador de tenis | 网球教练
ski instructor | Skilehrer | monitor de esquí | 滑雪教练
pilates instructor | Pilates-Trainer | instructor de pilates | 普拉提教练
dance teacher | Tanzlehrer | profesor de baile | 舞蹈老师
referee | Schiedsrichter | árbitro | 裁判员
sports director | Sportdirektor | director deportivo | 体育总监
gym manager | Fitnessstudioleiter | gerente de gimnasio | 健身房经理
mountain guide | Bergführer | guía de montaña | 登山向导
diving instructor | Tauchlehrer | instructor de buceo | 潜水教练
riding instructor | Reitlehrer | profesor de equitación | 马术教练
live-in carer | 24-Stunden-Betreuungskraft | cuidador interno | 住家护工
au pair | Au-pair | au pair | 互惠生
childminder | Tagesmutter | madre de día | 家庭托儿员
butler | Butler | mayordomo | 男管家
dog walker | Hundeausführer | paseador de perros | 遛狗员
dog trainer | Hundetrainer | adiestrador de perros | 训犬师
animal shelter worker | Tierheimpfleger | cuidador de refugio de animales | 动物收容所工作人员
embalmer | Thanatopraktiker | embalsamador | 遗体防腐师
tourism manager | Tourismusmanager | gestor turístico | 旅游经理
tour leader | Reisebegleiter | coordinador de viajes | 旅游领队
theme park attendant | Freizeitparkmitarbeiter | empleado de parque temático | 游乐园工作人员
catering assistant | Cateringhelfer | ayudante de catering | 餐饮助理
canteen worker | Kantinenmitarbeiter | trabajador de comedor | 食堂员工
brewer | Brauer | cervecero | 啤酒酿造师
`;
